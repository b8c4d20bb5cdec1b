"""Identity verifies its own tokens from its own table, without a round trip over HTTP."""

from __future__ import annotations

import json

from identity.keys.models import KeyState
from identity.keys.repository import SigningKeyRepository
from servicekit.auth.keys import Jwk
from servicekit.db import Database


class DatabaseKeys:
    """A :class:`servicekit.auth.KeySource` over the ``signing_keys`` table."""

    remote = False

    def __init__(self, database: Database) -> None:
        self.database = database

    async def get(self, kid: str) -> Jwk | None:
        async with self.database.sessionmaker() as session:
            key = await SigningKeyRepository(session).get(kid)
            if key is None or key.state == KeyState.RETIRED:
                return None
            public: Jwk = json.loads(key.public_jwk)
            return public

    async def aclose(self) -> None:
        return None
