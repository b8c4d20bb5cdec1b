"""Types every feature's schemas share: identifiers and bilingual texts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# Re-exported: the features of this service import the tenant types from here.
from servicekit.tenancy import AGS_PATTERN as AGS_PATTERN
from servicekit.tenancy import Ags as Ags


class LocalizedText(BaseModel):
    """A text in German and English."""

    model_config = ConfigDict(extra="forbid")

    de: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    en: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
