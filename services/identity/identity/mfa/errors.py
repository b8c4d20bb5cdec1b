"""Refusals of the second factor. A wrong, replayed or expired code and a locked account all get
:class:`InvalidMfaCode`, as a locked account gets the wrong-password answer at the first step."""

from __future__ import annotations

from servicekit.problems import Conflict, Forbidden, Unauthorized


class InvalidMfaCode(Unauthorized):
    type_slug = "invalid-mfa-code"
    title = "The code is not valid"


class InvalidMfaChallenge(Unauthorized):
    """Unknown, expired or used: log in with the password again."""

    type_slug = "invalid-mfa-challenge"
    title = "The login step is not valid any more"


class MfaEnrolmentRequired(Forbidden):
    """Staff who must have a second factor and have none may only enrol one."""

    type_slug = "mfa-enrolment-required"
    title = "Set up an authenticator app first"


class MfaNotEnrolling(Forbidden):
    """The challenge completes a login with a code; it is no enrolment."""

    type_slug = "mfa-not-enrolling"
    title = "This login step does not enrol a second factor"


class MfaNotForRole(Forbidden):
    type_slug = "mfa-not-for-role"
    title = "A second factor is for clerks and administrators"


class MfaAlreadyEnrolled(Conflict):
    """A new authenticator replaces the old one only after an administrator's reset."""

    type_slug = "mfa-already-enrolled"
    title = "A second factor is set up already"


class NoPendingEnrolment(Conflict):
    type_slug = "no-pending-mfa-enrolment"
    title = "No enrolment is waiting for its first code"
