from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from documents.storage.base import BlobNotFound, BlobStore
from documents.storage.local import LocalBlobStore
from documents.storage.s3 import PART_SIZE, S3BlobStore


class Boom(Exception):
    pass


async def stream(
    data: bytes, step: int = 100_000, fail_after: int | None = None
) -> AsyncIterator[bytes]:
    sent = 0
    for i in range(0, len(data), step):
        if fail_after is not None and sent >= fail_after:
            raise Boom
        yield data[i : i + step]
        sent += step


async def read_all(store: BlobStore, blob_id: str) -> bytes:
    return b"".join([chunk async for chunk in store.read(blob_id)])


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
        return
    endpoint: str = request.getfixturevalue("s3_endpoint")
    s3 = S3BlobStore(
        bucket=f"test-{os.urandom(4).hex()}",
        prefix="blobs/",
        endpoint_url=endpoint,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
        create_bucket=True,
    )
    yield s3
    await s3.close()


def new_id() -> str:
    return os.urandom(16).hex()


@pytest.mark.parametrize("size", [0, 10, 300_000])
async def test_written_blob_reads_back(store: BlobStore, size: int) -> None:
    data = os.urandom(size)
    blob_id = new_id()

    written = await store.write(blob_id, stream(data))

    assert written == size
    assert await read_all(store, blob_id) == data
    assert await store.exists(blob_id)
    assert blob_id in await store.list_ids()


async def test_large_blob_goes_up_in_parts_and_reads_back(store: BlobStore) -> None:
    data = os.urandom(PART_SIZE * 2 + 12345)
    blob_id = new_id()

    await store.write(blob_id, stream(data, step=1024 * 1024))

    assert await read_all(store, blob_id) == data


async def test_failed_write_leaves_nothing(store: BlobStore) -> None:
    blob_id = new_id()

    with pytest.raises(Boom):
        await store.write(
            blob_id,
            stream(
                os.urandom(PART_SIZE + 2_000_000),
                step=1024 * 1024,
                fail_after=PART_SIZE + 1024 * 1024,
            ),
        )

    assert not await store.exists(blob_id)
    assert await store.list_ids() == []
    if isinstance(store, S3BlobStore):
        assert await store.pending_uploads() == 0
    if isinstance(store, LocalBlobStore):
        assert await store.list_partials() == []


async def test_delete_is_idempotent(store: BlobStore) -> None:
    blob_id = new_id()
    await store.write(blob_id, stream(b"x"))

    await store.delete(blob_id)
    await store.delete(blob_id)

    assert not await store.exists(blob_id)
    with pytest.raises(BlobNotFound):
        await read_all(store, blob_id)


def test_local_store_refuses_ids_that_would_leave_its_directory(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)

    with pytest.raises(ValueError, match="invalid blob id"):
        store._path("../../../../etc/passwd")


@pytest.mark.parametrize(
    "size",
    [
        1024 * 1024,
        1024 * 1024 + 64 * 1024,  # read in one piece with the first MiB
        1024 * 1024 + 64 * 1024 + 1,  # the remainder needs a read of its own
        3 * 1024 * 1024 + 5,
    ],
)
async def test_local_blob_of_any_size_around_the_read_size_reads_back(
    tmp_path: Path, size: int
) -> None:
    store = LocalBlobStore(tmp_path)
    data = os.urandom(size)
    blob_id = new_id()

    await store.write(blob_id, stream(data, step=64 * 1024 + 16))

    assert await read_all(store, blob_id) == data


@pytest.mark.parametrize("fail_after", [0, 64 * 1024, 2 * 1024 * 1024])
async def test_local_write_failing_before_or_after_the_first_mib_leaves_nothing(
    tmp_path: Path, fail_after: int
) -> None:
    store = LocalBlobStore(tmp_path)
    blob_id = new_id()

    with pytest.raises(Boom):
        await store.write(
            blob_id, stream(os.urandom(3 * 1024 * 1024), step=64 * 1024, fail_after=fail_after)
        )

    assert not await store.exists(blob_id)
    assert await store.list_partials() == []
