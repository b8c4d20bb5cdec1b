from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from identity.audit.dependencies import ClientIpDep
from identity.audit.service import Actor
from identity.keys.dependencies import KeyServiceDep
from identity.keys.errors import ActiveKeyCannotRetire, SigningKeyNotFound
from identity.keys.schemas import Jwks, SigningKeyList, SigningKeyOut
from identity.keys.service import RotationConflict
from servicekit.auth import AUTH_PROBLEMS, Principal, require_roles
from servicekit.problems import problem_responses

router = APIRouter(prefix="/identity/v1", tags=["keys"])

PlatformAdmin = Annotated[Principal, require_roles("platform_admin")]


@router.get("/jwks", response_model=Jwks, response_model_exclude_none=True)
async def jwks(keys: KeyServiceDep, response: Response) -> Jwks:
    """The public keys that verify identity's access tokens (RFC 7517)."""
    await keys.signing_key()
    # Short, so that services see a rotation soon; they refetch on an unknown kid anyway.
    response.headers["Cache-Control"] = "public, max-age=60"
    return Jwks.model_validate(await keys.jwks())


@router.get("/keys", response_model=SigningKeyList, responses=problem_responses(*AUTH_PROBLEMS))
async def list_keys(keys: KeyServiceDep, _admin: PlatformAdmin) -> SigningKeyList:
    """Every signing key with its state (platform admins)."""
    return SigningKeyList(items=[SigningKeyOut.model_validate(key) for key in await keys.list()])


@router.post(
    "/keys/rotate",
    status_code=201,
    response_model=SigningKeyOut,
    responses=problem_responses(*AUTH_PROBLEMS, RotationConflict),
)
async def rotate_keys(keys: KeyServiceDep, admin: PlatformAdmin, ip: ClientIpDep) -> SigningKeyOut:
    """Make a new active signing key; the previous one stays published as passive."""
    return SigningKeyOut.model_validate(await keys.rotate(Actor(admin.subject, ip)))


@router.post(
    "/keys/{kid}/retire",
    response_model=SigningKeyOut,
    responses=problem_responses(*AUTH_PROBLEMS, SigningKeyNotFound, ActiveKeyCannotRetire),
)
async def retire_key(
    kid: Annotated[str, Path(max_length=64)],
    keys: KeyServiceDep,
    admin: PlatformAdmin,
    ip: ClientIpDep,
) -> SigningKeyOut:
    """Stop publishing a passive key: tokens it signed are rejected from now on."""
    return SigningKeyOut.model_validate(await keys.retire(kid, Actor(admin.subject, ip)))
