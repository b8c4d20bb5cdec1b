"""Any S3-compatible object store, through boto3 run in worker threads.

Small blobs go up in one PUT; larger ones as a multipart upload whose parts are sent as they
fill, so memory stays at one part. A failed upload is aborted, so no object appears.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from documents.storage.base import BlobNotFound, BlobStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PART_SIZE = 8 * 1024 * 1024  # S3 wants at least 5 MiB for every part but the last
_READ_SIZE = 256 * 1024


def _is_missing(exc: ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in {"NoSuchKey", "404", "NotFound"}


class S3BlobStore(BlobStore):
    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        create_bucket: bool = False,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._create_bucket = create_bucket
        self._bucket_ready = False
        session = boto3.session.Session()
        self.client: S3Client = session.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}),
        )

    def _key(self, blob_id: str) -> str:
        return f"{self.prefix}{blob_id}"

    async def _ensure_bucket(self) -> None:
        if self._bucket_ready or not self._create_bucket:
            return

        def create() -> None:
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError:
                self.client.create_bucket(Bucket=self.bucket)

        await anyio.to_thread.run_sync(create)
        self._bucket_ready = True

    async def write(self, blob_id: str, chunks: AsyncIterable[bytes]) -> int:
        await self._ensure_bucket()
        key = self._key(blob_id)
        buffer = bytearray()
        written = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []

        async def send_part(data: bytes) -> None:
            nonlocal upload_id
            if upload_id is None:
                created = await anyio.to_thread.run_sync(
                    lambda: self.client.create_multipart_upload(Bucket=self.bucket, Key=key)
                )
                upload_id = created["UploadId"]
            number = len(parts) + 1
            current_upload = upload_id
            answer = await anyio.to_thread.run_sync(
                lambda: self.client.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=current_upload,
                    PartNumber=number,
                    Body=data,
                )
            )
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})

        try:
            async for chunk in chunks:
                buffer += chunk
                while len(buffer) >= PART_SIZE:
                    data = bytes(buffer[:PART_SIZE])
                    del buffer[:PART_SIZE]
                    await send_part(data)
                    written += len(data)
            if upload_id is None:
                data = bytes(buffer)
                await anyio.to_thread.run_sync(
                    lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
                )
                written += len(data)
            else:
                if buffer:
                    data = bytes(buffer)
                    await send_part(data)
                    written += len(data)
                final_upload = upload_id
                await anyio.to_thread.run_sync(
                    lambda: self.client.complete_multipart_upload(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=final_upload,
                        MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
                    )
                )
        except BaseException:
            if upload_id is not None:
                aborted = upload_id
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(
                        lambda: self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=key, UploadId=aborted
                        )
                    )
            raise
        return written

    async def read(self, blob_id: str) -> AsyncIterator[bytes]:
        await self._ensure_bucket()
        key = self._key(blob_id)
        try:
            answer = await anyio.to_thread.run_sync(
                lambda: self.client.get_object(Bucket=self.bucket, Key=key)
            )
        except ClientError as exc:
            if _is_missing(exc):
                raise BlobNotFound(blob_id) from exc
            raise
        body = answer["Body"]
        try:
            while True:
                data = await anyio.to_thread.run_sync(body.read, _READ_SIZE)
                if not data:
                    return
                yield data
        finally:
            body.close()

    async def delete(self, blob_id: str) -> None:
        await self._ensure_bucket()
        key = self._key(blob_id)
        await anyio.to_thread.run_sync(
            lambda: self.client.delete_object(Bucket=self.bucket, Key=key)
        )

    async def exists(self, blob_id: str) -> bool:
        await self._ensure_bucket()
        key = self._key(blob_id)
        try:
            await anyio.to_thread.run_sync(
                lambda: self.client.head_object(Bucket=self.bucket, Key=key)
            )
        except ClientError as exc:
            if _is_missing(exc):
                return False
            raise
        return True

    async def list_ids(self) -> list[str]:
        return await self._list(None)

    async def list_older_than(self, moment: datetime) -> list[str]:
        return await self._list(moment)

    async def _list(self, before: datetime | None) -> list[str]:
        await self._ensure_bucket()

        def scan() -> list[str]:
            ids: list[str] = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    if before is None or item["LastModified"] < before:
                        ids.append(item["Key"][len(self.prefix) :])
            return sorted(ids)

        return await anyio.to_thread.run_sync(scan)

    async def pending_uploads(self) -> int:
        """Multipart uploads begun and neither completed nor aborted (tests)."""
        answer = await anyio.to_thread.run_sync(
            lambda: self.client.list_multipart_uploads(Bucket=self.bucket)
        )
        return len(answer.get("Uploads", []))

    async def check(self) -> None:
        await self._ensure_bucket()
        await anyio.to_thread.run_sync(lambda: self.client.head_bucket(Bucket=self.bucket))

    async def close(self) -> None:
        await anyio.to_thread.run_sync(self.client.close)
