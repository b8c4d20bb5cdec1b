from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from documents.crypto.keys import KeyRing
from servicekit.dependencies import app_state

KeyRingDep = Annotated[KeyRing, Depends(app_state("key_ring", KeyRing))]
"""The key-encryption keys that wrap and unwrap the documents' data keys."""
