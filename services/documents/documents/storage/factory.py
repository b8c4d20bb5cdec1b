from __future__ import annotations

from documents.settings import DocumentsSettings, StorageBackend
from documents.storage.base import BlobStore
from documents.storage.local import LocalBlobStore
from documents.storage.s3 import S3BlobStore


def blob_store_from(settings: DocumentsSettings) -> BlobStore:
    """The blob store the settings select."""
    if settings.storage_backend is StorageBackend.S3:
        return S3BlobStore(
            bucket=settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=(
                settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None
            ),
            secret_access_key=(
                settings.s3_secret_access_key.get_secret_value()
                if settings.s3_secret_access_key
                else None
            ),
            create_bucket=settings.s3_create_bucket,
        )
    return LocalBlobStore(settings.blob_dir)
