from __future__ import annotations

from servicekit.problems import NotFound


class ClosureNotFound(NotFound):
    type_slug = "closure-not-found"
    title = "No such closure of this office"


class HolidayNotFound(NotFound):
    type_slug = "holiday-not-found"
    title = "No such public holiday"
