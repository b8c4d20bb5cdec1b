"""Bot protection is on in production and off elsewhere, unless a municipality says otherwise;
production refuses to run without it or with the public development secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from servicekit.botcheck import BotcheckSettings
from servicekit.settings import Environment

SECRET = "a-botcheck-secret-of-this-deployment-0001"
POSTGRES = "postgresql+asyncpg://db/kit"


def test_required_in_production_and_where_a_municipality_says_so() -> None:
    development = BotcheckSettings(service_name="kit", tenant_botcheck_required={"06999002": True})
    production = BotcheckSettings(
        service_name="kit",
        environment=Environment.PRODUCTION,
        database_url=POSTGRES,
        botcheck_secret=SECRET,  # type: ignore[arg-type]
    )

    assert development.botcheck_required_for("06999001") is False
    assert development.botcheck_required_for("06999002") is True
    assert production.botcheck_required_for("06999001") is True


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({}, "botcheck_secret"),
        ({"botcheck_secret": SECRET, "botcheck_required": False}, "botcheck_required"),
        (
            {"botcheck_secret": SECRET, "tenant_botcheck_required": {"06999001": False}},
            "botcheck_required",
        ),
    ],
)
def test_production_refuses_it_off_or_with_the_development_secret(
    changes: dict[str, object], named: str
) -> None:
    with pytest.raises(ValidationError, match=named):
        BotcheckSettings.model_validate(
            {
                "service_name": "kit",
                "environment": Environment.PRODUCTION,
                "database_url": POSTGRES,
                **changes,
            }
        )
