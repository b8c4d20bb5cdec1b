"""``GET /<service>/v1/tenants/{ags}/mail``: the municipality's admins see what did not reach
its citizens.

A mail that the SMTP server refused for good (5xx), or that gave up after its time, is
``failed`` with the server's last answer; ``pending`` ones are still being tried. Recipients
are masked (``e***@example.org``), as in ``rathaus-<service> mail``; the content is not shown.
Another municipality's admin gets 404, as for any of another municipality's objects.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from servicekit.auth import AUTH_PROBLEMS, Principal, require_roles
from servicekit.db import SessionDep
from servicekit.mail.addresses import masked
from servicekit.mail.outbox import Mailbox, MailStatus
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AgsPath, NotYourMunicipality

Admin = Annotated[Principal, require_roles("admin")]


class MailOut(BaseModel):
    id: int
    template: str = Field(examples=["booking_confirmed"])
    about: str = Field(description="What the mail is about", examples=["booking:5f0c..."])
    recipient: str = Field(description="Masked", examples=["e***@example.org"])
    status: MailStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="For a pending mail")
    finished_at: datetime | None = Field(description="When it failed for good")
    last_error: str | None = Field(description="The SMTP server's last answer, or why not")


class MailList(BaseModel):
    items: list[MailOut]


def mail_router(prefix: str) -> APIRouter:
    """The router for a service whose app has a mailbox; ``prefix`` like ``/booking/v1``."""
    router = APIRouter(prefix=prefix, tags=["mail"])

    @router.get(
        "/tenants/{ags}/mail",
        response_model=MailList,
        responses=problem_responses(*AUTH_PROBLEMS, NotYourMunicipality, ValidationFailed),
    )
    async def undelivered_mail(
        ags: AgsPath,
        admin: Admin,
        session: SessionDep,
        request: Request,
        status: Annotated[Literal["failed", "pending"], Query()] = "failed",
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Any:
        """The municipality's mails that failed (default) or are still pending, newest first."""
        if admin.tenant != ags:
            raise NotYourMunicipality(f"no municipality {ags} among yours")
        mailbox: Mailbox = request.app.state.mailbox
        model = mailbox.model
        rows = await session.scalars(
            select(model)
            .where(model.tenant == ags, model.status == status)
            .order_by(model.id.desc())
            .limit(limit)
        )
        return MailList(
            items=[
                MailOut(
                    id=row.id,
                    template=row.template,
                    about=row.subject_key,
                    recipient=masked(row.recipient),
                    status=MailStatus(row.status),
                    attempts=row.attempts,
                    created_at=row.created_at,
                    next_attempt_at=row.next_attempt_at if status == "pending" else None,
                    finished_at=row.finished_at,
                    last_error=row.last_error,
                )
                for row in rows
            ]
        )

    return router
