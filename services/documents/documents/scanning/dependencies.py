from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from documents.scanning.scanner import Scanner
from servicekit.dependencies import app_state

ScannerDep = Annotated[Scanner, Depends(app_state("scanner", Scanner))]
"""The malware scanner (clamd, or none: then every document counts as clean)."""
