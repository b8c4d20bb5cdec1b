from __future__ import annotations

from servicekit.problems import Conflict, Forbidden, NotFound, ValidationFailed


class AccountNotFound(NotFound):
    type_slug = "account-not-found"
    title = "No such account"


class EmailTaken(Conflict):
    type_slug = "email-taken"
    title = "An account with this email exists in this municipality"


class WeakPassword(ValidationFailed):
    type_slug = "weak-password"
    title = "The password does not meet the rules"


class RoleNotGrantable(ValidationFailed):
    type_slug = "role-not-grantable"
    title = "You cannot grant this role"


class InvalidVerificationToken(NotFound):
    type_slug = "invalid-verification-token"
    title = "Unknown or used verification token"


class PasswordMismatch(Forbidden):
    type_slug = "password-mismatch"
    title = "The password does not match this account"
