from __future__ import annotations

from servicekit.problems import Conflict, Forbidden, NotFound, Problem, ValidationFailed


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


class AccountClosedForGood(Conflict):
    type_slug = "account-closed-for-good"
    title = "This account was erased or gave its address up: it cannot be enabled again"


class OwnAccount(Conflict):
    type_slug = "own-account"
    title = "You cannot disable your own account"


class UnknownEmailChangeCode(NotFound):
    type_slug = "unknown-email-change-code"
    title = "No such code for a new e-mail address"


class EmailChangeCodeSpent(Problem):
    status = 410
    type_slug = "email-change-code-spent"
    title = "This code for a new e-mail address was used or has expired"
