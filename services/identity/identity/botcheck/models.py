"""The proofs of work identity accepted (the kit's table on identity's Base; see
``servicekit.botcheck``)."""

from __future__ import annotations

from identity.db import Base
from servicekit.botcheck import UsedChallengeColumns


class UsedChallenge(UsedChallengeColumns, Base):
    pass
