"""Password reset by mail: ask for a code, then set the password with it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from identity.accounts.errors import WeakPassword
from identity.audit.dependencies import ClientIpDep
from identity.audit.service import Actor
from identity.password_reset.dependencies import PasswordResetsDep
from identity.password_reset.errors import ResetCodeSpent, UnknownResetCode
from identity.password_reset.schemas import PasswordResetConfirmation, PasswordResetRequest
from servicekit.problems import ValidationFailed, problem_response, problem_responses

router = APIRouter(prefix="/identity/v1/auth/password-reset", tags=["login"])


@router.post(
    "", status_code=202, response_class=Response, responses=problem_responses(ValidationFailed)
)
async def request_password_reset(
    body: PasswordResetRequest, resets: PasswordResetsDep, ip: ClientIpDep
) -> Response:
    """Mail a single-use code that sets a new password to the address, if an account of the
    municipality has it (in the language of Accept-Language, else the municipality's); the
    answer is the same either way (202, no body)."""
    await resets.request(body.tenant, body.email, Actor(None, ip))
    return Response(status_code=202)


@router.post(
    "/confirm",
    status_code=204,
    responses=problem_responses(UnknownResetCode, ResetCodeSpent, WeakPassword, ValidationFailed),
)
async def confirm_password_reset(
    body: PasswordResetConfirmation, request: Request, resets: PasswordResetsDep, ip: ClientIpDep
) -> Response:
    """Set the password with the mailed code: every login of the account ends, and a notice
    is mailed. A code works once: used or expired it is 410 reset-code-spent (an unknown one
    404)."""
    try:
        await resets.confirm(body.token, body.password, Actor(None, ip))
    except ResetCodeSpent as problem:
        # Returned, not raised: the audit of the attempt must be committed.
        return problem_response(problem.body(request), problem.status, problem.headers)
    return Response(status_code=204)
