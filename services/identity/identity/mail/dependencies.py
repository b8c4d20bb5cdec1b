from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from identity.mail.service import AccountMail
from identity.settings import SettingsDep
from identity.tenants.dependencies import TenantServiceDep
from servicekit.dependencies import MailboxDep, SessionDep

AcceptLanguage = Annotated[
    str | None,
    Header(
        max_length=500,
        description="The language of the mail this request sends (de, en); else the municipality's",
    ),
]


async def account_mail(
    session: SessionDep,
    mailbox: MailboxDep,
    tenants: TenantServiceDep,
    settings: SettingsDep,
    accept_language: AcceptLanguage = None,
) -> AccountMail:
    return AccountMail(session, mailbox, tenants, settings, accept_language)


AccountMailDep = Annotated[AccountMail, Depends(account_mail)]
