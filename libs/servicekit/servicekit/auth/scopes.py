"""What an OAuth2 scope looks like, wherever one is named: a client identity registers, the
credentials booking keeps for a partner, the scopes a route requires."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

SCOPE_PATTERN = r"^[a-z][a-z0-9:._-]{0,63}$"

Scope = Annotated[str, StringConstraints(pattern=SCOPE_PATTERN), Field(examples=["booking:search"])]
