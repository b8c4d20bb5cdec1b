"""RFC 6749 section 5.2 error answers of the token endpoint.

The OAuth2 token endpoint speaks the error format OAuth2 client libraries understand, not
problem+json: that is the one exception to the house rule, and the contract says so.
The right password of staff with a second factor is ``invalid_grant`` with an ``mfa_token``: a
client that knows nothing of it fails safely, one that does completes the login with the
``MFA_OTP_GRANT`` (``identity.mfa.policy``) and that token.
"""

from __future__ import annotations

from typing import Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from servicekit.problems import BadRequest, Forbidden

ErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
]


class OAuth2Error(BaseModel):
    """RFC 6749 error response."""

    error: ErrorCode
    error_description: str | None = None
    mfa_token: str | None = Field(
        default=None,
        description="The password was right: the second step of the login (mfa-otp grant)",
    )
    mfa_enrolment_required: bool | None = Field(
        default=None, description="With mfa_token: enrol a second factor first"
    )


class OAuth2Failure(Exception):
    def __init__(
        self,
        error: ErrorCode,
        description: str,
        *,
        status: int = 400,
        mfa_token: str | None = None,
        mfa_enrolment_required: bool | None = None,
    ) -> None:
        super().__init__(description)
        self.error: ErrorCode = error
        self.description = description
        self.status = status
        self.mfa_token = mfa_token
        self.mfa_enrolment_required = mfa_enrolment_required

    def response(self) -> JSONResponse:
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="rathaus"'
        body = OAuth2Error(
            error=self.error,
            error_description=self.description,
            mfa_token=self.mfa_token,
            mfa_enrolment_required=self.mfa_enrolment_required,
        )
        return JSONResponse(
            body.model_dump(exclude_none=True), status_code=self.status, headers=headers
        )


OAUTH2_ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {
        "model": OAuth2Error,
        "description": "RFC 6749 error: invalid_request, invalid_grant, unsupported_grant_type, "
        "invalid_scope; invalid_grant with an mfa_token for the right password of staff with a "
        "second factor",
    },
    401: {"model": OAuth2Error, "description": "RFC 6749 error: invalid_client"},
}


class AuthorizationRequestRefused(BadRequest):
    """An authorization request that cannot be answered at its redirect URI: the client is
    unknown or disabled, or the redirect URI is not one the client registered (RFC 6749
    section 4.1.2.1). Nobody is redirected anywhere: the person sees this page."""

    type_slug = "authorization-request-refused"
    title = "This sign-in request cannot be accepted"


class SignInPageExpired(BadRequest):
    """The form of the sign-in page is not one we served, or is older than its lifetime."""

    type_slug = "sign-in-page-expired"
    title = "The sign-in page has expired"


class SignInForgery(Forbidden):
    """A sign-in form posted without the cookie of the browser the page was served to."""

    type_slug = "sign-in-forgery"
    title = "The sign-in form was not sent from its own page"


class Redirected(Exception):
    """An error of an authorization request with a valid client and redirect URI: answered
    at the redirect URI (RFC 6749 section 4.1.2.1), with the request's ``state``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
