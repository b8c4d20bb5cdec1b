"""Secrets at rest (servicekit.sealing): they open where they were sealed, and nowhere else."""

from __future__ import annotations

import pytest

from servicekit.sealing import SealBroken, Sealer

SECRET = "s" * 40


def test_a_sealed_value_opens_with_its_key_and_place() -> None:
    sealer = Sealer(SECRET, purpose="partner-credentials")
    sealed = sealer.seal("client-secret", bound_to="partner:06999001:06999002")

    assert "client-secret" not in sealed
    assert sealer.open(sealed, bound_to="partner:06999001:06999002") == "client-secret"
    assert sealed != sealer.seal("client-secret", bound_to="partner:06999001:06999002")


@pytest.mark.parametrize(
    ("sealer", "bound_to", "altered"),
    [
        (Sealer(SECRET, purpose="partner-credentials"), "partner:06999001:06999003", False),
        (Sealer("t" * 40, purpose="partner-credentials"), "partner:06999001:06999002", False),
        (Sealer(SECRET, purpose="something-else"), "partner:06999001:06999002", False),
        (Sealer(SECRET, purpose="partner-credentials"), "partner:06999001:06999002", True),
    ],
    ids=["moved to another row", "another secret", "another purpose", "altered"],
)
def test_it_opens_nowhere_else(sealer: Sealer, bound_to: str, altered: bool) -> None:
    sealed = Sealer(SECRET, purpose="partner-credentials").seal(
        "client-secret", bound_to="partner:06999001:06999002"
    )
    if altered:
        sealed = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    with pytest.raises(SealBroken):
        sealer.open(sealed, bound_to=bound_to)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="32 characters"):
        Sealer("short", purpose="x")
