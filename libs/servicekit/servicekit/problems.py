"""RFC 9457 problem details for every error a service answers.

Each error is a subclass of :class:`Problem` with a stable ``type`` slug, a ``status`` and a
``title``; one handler renders it. Framework errors (unknown route, wrong method, malformed or
invalid payload, unexpected exceptions) are translated into the same shape, so a client parses
exactly one error format. Type URIs are ``urn:rathaus:problem:<slug>``: stable, and not tied to a
host name a deployment may not own.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.routing import Route

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:rathaus:problem:"


def problem_type(slug: str) -> str:
    return TYPE_PREFIX + slug


class InvalidParam(BaseModel):
    """One field that failed validation."""

    name: str = Field(description="Location of the field, dotted (e.g. body.email)")
    reason: str


class ProblemDetails(BaseModel):
    """An RFC 9457 problem details object."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["urn:rathaus:problem:not-found"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    invalid_params: list[InvalidParam] | None = Field(
        default=None, description="Present on validation errors"
    )


class Problem(Exception):
    """Base of every domain error. Subclass with ``status``, ``type_slug`` and ``title``."""

    status: ClassVar[int] = 500
    type_slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = extensions

    def body(self, request: HTTPConnection) -> dict[str, Any]:
        """The problem+json body; ``request`` may be a WebSocket's upgrade request too."""
        return _body(
            slug=self.type_slug,
            title=self.title,
            status=self.status,
            detail=self.detail,
            request=request,
            extensions=self.extensions,
        )


class BadRequest(Problem):
    status = 400
    type_slug = "bad-request"
    title = "Bad request"


class MalformedBody(Problem):
    status = 400
    type_slug = "malformed-body"
    title = "The request body is not well-formed"


class Unauthorized(Problem):
    status = 401
    type_slug = "unauthorized"
    title = "Authentication required"


class Forbidden(Problem):
    status = 403
    type_slug = "forbidden"
    title = "Not allowed"


class NotFound(Problem):
    status = 404
    type_slug = "not-found"
    title = "Not found"


class MethodNotAllowed(Problem):
    status = 405
    type_slug = "method-not-allowed"
    title = "Method not allowed"


class Conflict(Problem):
    status = 409
    type_slug = "conflict"
    title = "Conflict"


class PayloadTooLarge(Problem):
    status = 413
    type_slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(Problem):
    status = 415
    type_slug = "unsupported-media-type"
    title = "Unsupported media type"


class ValidationFailed(Problem):
    status = 422
    type_slug = "validation-failed"
    title = "The request is not valid"


class TooManyRequests(Problem):
    status = 429
    type_slug = "too-many-requests"
    title = "Too many requests"


class ServiceUnavailable(Problem):
    status = 503
    type_slug = "service-unavailable"
    title = "Service unavailable"


_STATUS_SLUGS: dict[int, type[Problem]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        TooManyRequests,
        ServiceUnavailable,
    )
}


def _body(
    *,
    slug: str,
    title: str,
    status: int,
    detail: str | None,
    request: HTTPConnection,
    extensions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": problem_type(slug), "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.url.path
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    if extensions:
        body.update(extensions)
    return body


def problem_response(
    body: Mapping[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        dict(body), status_code=status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE
    )


async def _handle_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc.body(request), exc.status, exc.headers)


async def _handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    cls = _STATUS_SLUGS.get(exc.status_code)
    if cls is not None:
        slug, title = cls.type_slug, cls.title
    else:
        slug = f"http-{exc.status_code}"
        try:
            title = HTTPStatus(exc.status_code).phrase
        except ValueError:
            title = "Error"
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = None
    headers = exc.headers
    if exc.status_code == 405:
        if detail == "Method Not Allowed":
            detail = None
        headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(request))}
    return problem_response(
        _body(slug=slug, title=title, status=exc.status_code, detail=detail, request=request),
        exc.status_code,
        headers,
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on this path (RFC 9110: a 405 says all of
    them; Starlette's own names only those of the first route that matched the path)."""
    methods: set[str] = set()
    path = request.scope["path"]
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.path_regex.match(path):
            methods |= route.methods
    return sorted(methods)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return problem_response(
            _body(
                slug=MalformedBody.type_slug,
                title=MalformedBody.title,
                status=400,
                detail="The body could not be parsed as JSON.",
                request=request,
            ),
            400,
        )
    # The submitted values are deliberately not echoed: they may hold personal data.
    invalid = [
        {"name": _location(error.get("loc", ())), "reason": str(error.get("msg", "invalid"))}
        for error in errors
    ]
    return problem_response(
        _body(
            slug=ValidationFailed.type_slug,
            title=ValidationFailed.title,
            status=422,
            detail=None,
            request=request,
            extensions={"invalid_params": invalid},
        ),
        422,
    )


class DependencyUnavailable(ServiceUnavailable):
    type_slug = "dependency-unavailable"
    title = "A service this one needs (such as its database) cannot be reached; retry shortly"


def internal_error_body(
    path: str, request_id: str | None, problem: type[Problem] = Problem
) -> dict[str, Any]:
    """The body of a 500 (or of ``problem``): nothing about the failure reaches the client."""
    body: dict[str, Any] = {
        "type": problem_type(problem.type_slug),
        "title": problem.title,
        "status": problem.status,
        "instance": path,
    }
    if request_id:
        body["request_id"] = request_id
    return body


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _handle_problem)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)


def problem_responses(*problems: type[Problem]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry of a route that can answer with these problems."""
    responses: dict[int | str, dict[str, Any]] = {}
    for problem in problems:
        existing = responses.get(problem.status)
        description = problem.title
        if existing is not None:
            description = f"{existing['description']}; {problem.title}"
        # servicekit.openapi files error bodies under application/problem+json.
        responses[problem.status] = {"model": ProblemDetails, "description": description}
    return responses
