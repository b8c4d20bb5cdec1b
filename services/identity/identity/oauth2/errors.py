"""RFC 6749 section 5.2 error answers of the token endpoint.

The OAuth2 token endpoint speaks the error format OAuth2 client libraries understand, not
problem+json: that is the one exception to the house rule, and the contract says so.
"""

from __future__ import annotations

from typing import Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel

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


class OAuth2Failure(Exception):
    def __init__(self, error: ErrorCode, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.error: ErrorCode = error
        self.description = description
        self.status = status

    def response(self) -> JSONResponse:
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="rathaus"'
        body = OAuth2Error(error=self.error, error_description=self.description)
        return JSONResponse(body.model_dump(), status_code=self.status, headers=headers)


OAUTH2_ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {
        "model": OAuth2Error,
        "description": "RFC 6749 error: invalid_request, invalid_grant, unsupported_grant_type, "
        "invalid_scope",
    },
    401: {"model": OAuth2Error, "description": "RFC 6749 error: invalid_client"},
}
