from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from documents.storage.base import BlobStore
from servicekit.dependencies import app_state

BlobStoreDep = Annotated[BlobStore, Depends(app_state("blob_store", BlobStore))]
"""The app's blob store (local folder or S3, as the settings select)."""
