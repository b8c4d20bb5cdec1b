"""The proofs of work booking accepted (the kit's table on booking's Base; see
``servicekit.botcheck``)."""

from __future__ import annotations

from booking.db import Base
from servicekit.botcheck import UsedChallengeColumns


class UsedChallenge(UsedChallengeColumns, Base):
    pass
