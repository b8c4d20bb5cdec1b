"""The statutory public holidays of a municipality's Land, from the ``holidays`` package.

The Land is the AGS's first two digits. Only the holidays of the whole Land count: one that
only some of its municipalities keep (Mariä Himmelfahrt in Bavaria's Catholic ones,
Fronleichnam in parts of Saxony and Thuringia, Augsburg's Friedensfest) the municipality
declares itself, as a holiday of its own (``PUT /holidays/{day}``).

Each Land's year is computed once per process: the availability snapshot asks for it every
few seconds, and the package takes a while to build a year (a third of a second the first
time, for its translations).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from functools import cache
from types import MappingProxyType

import holidays

LAND_OF_AGS_PREFIX: Mapping[str, str] = MappingProxyType(
    {
        "01": "SH",
        "02": "HH",
        "03": "NI",
        "04": "HB",
        "05": "NW",
        "06": "HE",
        "07": "RP",
        "08": "BW",
        "09": "BY",
        "10": "SL",
        "11": "BE",
        "12": "BB",
        "13": "MV",
        "14": "SN",
        "15": "ST",
        "16": "TH",
    }
)
"""ISO 3166-2:DE code of the Land by the AGS's first two digits."""


def land_of(ags: str) -> str:
    """The Land of a municipality; an AGS names one by construction (see ``servicekit.tenancy``)."""
    return LAND_OF_AGS_PREFIX[ags[:2]]


@cache
def holidays_of_land(land: str, year: int) -> Mapping[date, str]:
    """The Land's public holidays of a year with their German names (read-only: it is shared)."""
    found = holidays.country_holidays("DE", subdiv=land, years=year, language="de")
    return MappingProxyType(dict(sorted(found.items())))


def public_holidays(ags: str, years: Iterable[int]) -> dict[date, str]:
    """The public holidays of the municipality's Land in these years, by day."""
    land = land_of(ags)
    return {day: name for year in years for day, name in holidays_of_land(land, year).items()}
