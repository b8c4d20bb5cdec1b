from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from documents.clients.booking import BookingClient
from servicekit.dependencies import app_state

BookingClientDep = Annotated[BookingClient, Depends(app_state("booking_client", BookingClient))]
"""The app's one client of booking (its connections and its remembered answers are shared)."""
