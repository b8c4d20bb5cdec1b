"""Types every feature's schemas share: identifiers and bilingual texts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

AGS_PATTERN = r"^(0[1-9]|1[0-6])[0-9]{6}$"

Ags = Annotated[
    str,
    StringConstraints(pattern=AGS_PATTERN),
    Field(
        description="Amtlicher Gemeindeschlüssel: 8 digits, starting with the Land (01-16)",
        examples=["06999001"],
    ),
]


class LocalizedText(BaseModel):
    """A text in German and English."""

    model_config = ConfigDict(extra="forbid")

    de: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    en: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
