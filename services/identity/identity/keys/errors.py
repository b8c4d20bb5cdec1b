from __future__ import annotations

from servicekit.problems import Conflict, NotFound


class SigningKeyNotFound(NotFound):
    type_slug = "signing-key-not-found"
    title = "No such signing key"


class ActiveKeyCannotRetire(Conflict):
    type_slug = "active-key-cannot-retire"
    title = "The active signing key cannot be retired; rotate first"
