from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI


@dataclass(frozen=True)
class ServiceUnderTest:
    """What the plugin needs to know of a service: its name, folder and app factory."""

    name: str
    service_dir: Path
    make_app: Callable[[str], FastAPI]
    """Builds the app for a database URL (settings for tests are the service's business)."""
