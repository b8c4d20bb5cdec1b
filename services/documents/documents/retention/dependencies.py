from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from documents.retention.service import Retention
from documents.settings import SettingsDep
from documents.storage.dependencies import BlobStoreDep
from servicekit.dependencies import DatabaseDep


async def _retention(
    database: DatabaseDep, blobs: BlobStoreDep, settings: SettingsDep
) -> Retention:
    return Retention(database.sessionmaker, blobs, settings)


RetentionDep = Annotated[Retention, Depends(_retention)]
