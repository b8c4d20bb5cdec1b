from __future__ import annotations

from servicekit.problems import ServiceUnavailable


class TooManyStreams(ServiceUnavailable):
    type_slug = "too-many-streams"
    title = "This server follows as many rooms as it can; try again shortly"
