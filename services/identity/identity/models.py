"""Imports every feature's models so that alembic and the app see all tables."""

from identity.accounts.models import Account, EmailChange
from identity.audit.models import AuditEvent
from identity.botcheck.models import UsedChallenge
from identity.clients.models import OAuthClient
from identity.events.models import OutboxDelivery, OutboxEvent
from identity.keys.models import SigningKey
from identity.login.models import ExternalIdentity, LoginThrottle
from identity.mail.models import OutboxMail
from identity.mfa.models import MfaChallenge, MfaEnrolment, MfaRecoveryCode
from identity.oauth2.models import AuthorizationCode
from identity.password_reset.models import PasswordReset
from identity.tenants.models import Tenant
from identity.tokens.models import RefreshToken

__all__ = [
    "Account",
    "AuditEvent",
    "AuthorizationCode",
    "EmailChange",
    "ExternalIdentity",
    "LoginThrottle",
    "MfaChallenge",
    "MfaEnrolment",
    "MfaRecoveryCode",
    "OAuthClient",
    "OutboxDelivery",
    "OutboxEvent",
    "OutboxMail",
    "PasswordReset",
    "RefreshToken",
    "SigningKey",
    "Tenant",
    "UsedChallenge",
]
