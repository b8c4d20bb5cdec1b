from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from identity.mail.service import AccountMail
from identity.settings import SettingsDep
from identity.tenants.dependencies import TenantServiceDep
from servicekit.dependencies import MailboxDep, SessionDep

# Read by every route that may mail, documented (in its description) only by those that do.
AcceptLanguage = Annotated[str | None, Header(max_length=500, include_in_schema=False)]


async def account_mail(
    session: SessionDep,
    mailbox: MailboxDep,
    tenants: TenantServiceDep,
    settings: SettingsDep,
    accept_language: AcceptLanguage = None,
) -> AccountMail:
    return AccountMail(session, mailbox, tenants, settings, accept_language)


AccountMailDep = Annotated[AccountMail, Depends(account_mail)]
