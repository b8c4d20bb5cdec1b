"""Who logs in with a second factor: staff (clerks, admins, platform admins), where their
municipality requires it (every municipality in production)."""

from __future__ import annotations

from identity.accounts.models import Account
from identity.settings import IdentitySettings

MFA_ROLES = frozenset({"clerk", "admin", "platform_admin"})

AMR_PASSWORD = ("pwd",)
AMR_PASSWORD_AND_OTP = ("pwd", "otp")
"""RFC 8176 method names; a recovery code is a one-time password too."""

MFA_OTP_GRANT = "urn:rathaus:params:oauth:grant-type:mfa-otp"
"""The token endpoint's second step of a password login: ``mfa_token`` and ``otp``."""


def may_enrol(account: Account) -> bool:
    return not account.role_set.isdisjoint(MFA_ROLES)


def must_have_second_factor(account: Account, settings: IdentitySettings) -> bool:
    return may_enrol(account) and settings.mfa_required_for(account.tenant_ags)
