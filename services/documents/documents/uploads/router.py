from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from documents.access.dependencies import ACCESS_PROBLEMS, ID_PATTERN, BookingId, CallerDep
from documents.access.errors import BookingClosed, BookingNotFound
from documents.intake.sniffing import ALLOWED_MEDIA_TYPES
from documents.rooms.bell import ring_after_commit
from documents.rooms.dependencies import RoomBellDep
from documents.storage.dependencies import BlobStoreDep
from documents.uploads.dependencies import DocumentsDep, IdempotencyDep
from documents.uploads.errors import (
    ChecklistItemNotFound,
    CitizenOnly,
    ClerkOnly,
    DocumentIntegrityError,
    DocumentNotFound,
    InvalidFileName,
    MissingFile,
    NotReleased,
    NotSentToCitizen,
    PurposeRequired,
    ReviewNotAllowed,
    SentByOffice,
    TooLargeToScan,
    UnsupportedFileType,
    UploadTooLarge,
)
from documents.uploads.schemas import (
    DOCUMENT_ID_PATTERN,
    AccessLogOut,
    AccessRecordOut,
    BookingDocumentsOut,
    DocumentOut,
    ReviewIn,
    RoomDocumentsOut,
)
from documents.uploads.service import UploadBody, follow_reschedule
from servicekit.dependencies import DatabaseDep
from servicekit.idempotency import (
    KEY_PATTERN,
    REPLAY_HEADER,
    IdempotencyKeyReused,
    IdempotentRequestInProgress,
)
from servicekit.problems import ValidationFailed, problem_responses

router = APIRouter(prefix="/documents/v1", tags=["documents"])


ItemId = Annotated[str, Path(pattern=ID_PATTERN, description="The checklist item's id")]
DocumentId = Annotated[str, Path(pattern=DOCUMENT_ID_PATTERN)]
Purpose = Annotated[
    str | None,
    Query(
        max_length=500,
        description="Why a clerk reads this (recorded in the access log; required for content)",
    ),
]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description=(
            "Unique per upload (e.g. a UUID): a retry with the same file replays the first "
            "answer and stores nothing; with another file it is 422; while the first still "
            "runs, 409. Keys are the caller's own"
        ),
    ),
]

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "The file, either as the raw body (any Content-Type; name it with ?filename=) or as "
            "multipart/form-data with a part named 'file'. Its type is decided by its content."
        ),
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


Filename = Annotated[
    str | None, Query(max_length=255, description="The file's name, for raw-body uploads")
]


def _upload_body(request: Request, filename: str | None) -> UploadBody:
    """The request's body as it streams in, raw or multipart (the service tells them apart)."""
    length = request.headers.get("content-length")
    return UploadBody(
        stream=request.stream(),
        content_type=request.headers.get("content-type", "application/octet-stream"),
        content_length=int(length) if length and length.isdigit() else None,
        filename=filename,
    )


@router.post(
    "/bookings/{booking_id}/items/{item_id}/documents",
    status_code=201,
    response_model=DocumentOut,
    openapi_extra=_UPLOAD_BODY,
    responses=problem_responses(
        *ACCESS_PROBLEMS,
        BookingNotFound,
        ChecklistItemNotFound,
        BookingClosed,
        MissingFile,
        UploadTooLarge,
        TooLargeToScan,
        UnsupportedFileType,
        InvalidFileName,
        IdempotencyKeyReused,
        IdempotentRequestInProgress,
        ValidationFailed,
    ),
)
async def upload_document(
    request: Request,
    booking_id: BookingId,
    item_id: ItemId,
    caller: CallerDep,
    documents: DocumentsDep,
    bell: RoomBellDep,
    database: DatabaseDep,
    background: BackgroundTasks,
    idempotency: IdempotencyDep,
    filename: Filename = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Upload a document for one item of a booking's checklist (streamed, checked, encrypted)."""
    body = _upload_body(request, filename)
    if idempotency_key is None:
        document = await documents.upload(booking_id, item_id, caller, body)
        answer = DocumentOut.model_validate(document).model_dump(mode="json")
    else:
        uploaded = await documents.upload_once(
            booking_id,
            item_id,
            caller,
            body,
            idempotency=idempotency,
            key=idempotency_key,
            target=f"{request.url.path}?filename={filename or ''}",
        )
        if uploaded.document is None:
            return JSONResponse(
                uploaded.answer,
                status_code=uploaded.status_code,
                headers={REPLAY_HEADER: "true"},
            )
        document, answer = uploaded.document, uploaded.answer
    # A rescheduled appointment moves the retention of the booking's other documents too.
    background.add_task(follow_reschedule, database.sessionmaker, document)
    ring_after_commit(background, bell, document.booking_id)
    return JSONResponse(answer, status_code=201)


@router.post(
    "/bookings/{booking_id}/room/documents",
    status_code=201,
    response_model=DocumentOut,
    openapi_extra=_UPLOAD_BODY,
    responses=problem_responses(
        *ACCESS_PROBLEMS,
        BookingNotFound,
        ClerkOnly,
        BookingClosed,
        MissingFile,
        UploadTooLarge,
        UnsupportedFileType,
        InvalidFileName,
        ValidationFailed,
    ),
)
async def send_document_to_citizen(
    request: Request,
    booking_id: BookingId,
    caller: CallerDep,
    documents: DocumentsDep,
    bell: RoomBellDep,
    background: BackgroundTasks,
    filename: Filename = None,
) -> DocumentOut:
    """A clerk of the booking's office puts a document into the consultation room for the
    citizen (a notice, a filled form): checked, scanned, encrypted and kept as uploads are;
    booking mails the citizen that it arrived."""
    body = _upload_body(request, filename)
    document = await documents.send_to_citizen(booking_id, caller, body)
    ring_after_commit(background, bell, document.booking_id)
    return DocumentOut.model_validate(document)


@router.get(
    "/bookings/{booking_id}/room/documents",
    response_model=RoomDocumentsOut,
    responses=problem_responses(*ACCESS_PROBLEMS, BookingNotFound, ValidationFailed),
)
async def room_documents(
    booking_id: BookingId, caller: CallerDep, documents: DocumentsDep
) -> RoomDocumentsOut:
    """The documents the office put into the booking's consultation room, oldest first."""
    access, sent = await documents.sent_to_citizen(booking_id, caller)
    return RoomDocumentsOut(
        booking_id=access.booking.booking_id,
        items=[DocumentOut.model_validate(document) for document in sent],
    )


@router.post(
    "/documents/{document_id}/acknowledgement",
    response_model=DocumentOut,
    responses=problem_responses(
        *ACCESS_PROBLEMS,
        DocumentNotFound,
        CitizenOnly,
        NotSentToCitizen,
        NotReleased,
        ValidationFailed,
    ),
)
async def acknowledge_document(
    document_id: DocumentId,
    caller: CallerDep,
    documents: DocumentsDep,
    bell: RoomBellDep,
    background: BackgroundTasks,
) -> DocumentOut:
    """The citizen confirms receiving a document the office sent (again: the same answer)."""
    document = await documents.acknowledge(document_id, caller)
    ring_after_commit(background, bell, document.booking_id)
    return DocumentOut.model_validate(document)


@router.get(
    "/bookings/{booking_id}/documents",
    response_model=BookingDocumentsOut,
    responses=problem_responses(*ACCESS_PROBLEMS, BookingNotFound, ValidationFailed),
)
async def booking_documents(
    booking_id: BookingId, caller: CallerDep, documents: DocumentsDep, purpose: Purpose = None
) -> BookingDocumentsOut:
    """The booking's checklist with each item's documents, status and completeness."""
    return await documents.booking_documents(booking_id, caller, purpose)


@router.get(
    "/bookings/{booking_id}/access-log",
    response_model=AccessLogOut,
    responses=problem_responses(*ACCESS_PROBLEMS, BookingNotFound, ValidationFailed),
)
async def booking_access_log(
    booking_id: BookingId, caller: CallerDep, documents: DocumentsDep
) -> AccessLogOut:
    """Every clerk access to the booking's documents: who, what, when and why."""
    records = await documents.access_log(booking_id, caller)
    return AccessLogOut(items=[AccessRecordOut.model_validate(r) for r in records])


@router.delete(
    "/bookings/{booking_id}/documents",
    status_code=204,
    response_class=Response,
    responses=problem_responses(*ACCESS_PROBLEMS, BookingNotFound, CitizenOnly, ValidationFailed),
)
async def delete_booking_documents(
    booking_id: BookingId,
    caller: CallerDep,
    documents: DocumentsDep,
    blobs: BlobStoreDep,
    bell: RoomBellDep,
    background: BackgroundTasks,
) -> Response:
    """The citizen withdraws every document of the booking (keys destroyed, blobs removed)."""
    for blob_id in await documents.delete_all(booking_id, caller):
        background.add_task(blobs.delete, blob_id)
    ring_after_commit(background, bell, booking_id)
    return Response(status_code=204)


@router.get(
    "/documents/{document_id}",
    response_model=DocumentOut,
    responses=problem_responses(*ACCESS_PROBLEMS, DocumentNotFound, ValidationFailed),
)
async def get_document(
    document_id: DocumentId, caller: CallerDep, documents: DocumentsDep, purpose: Purpose = None
) -> DocumentOut:
    """One document's metadata."""
    return DocumentOut.model_validate(await documents.get(document_id, caller, purpose))


def _content_disposition(name: str) -> str:
    fallback = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.get(
    "/documents/{document_id}/content",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The document's bytes, as an attachment",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in ALLOWED_MEDIA_TYPES
            },
        },
        **problem_responses(
            *ACCESS_PROBLEMS,
            DocumentNotFound,
            PurposeRequired,
            NotReleased,
            DocumentIntegrityError,
            ValidationFailed,
        ),
    },
)
async def download_document(
    document_id: DocumentId, caller: CallerDep, documents: DocumentsDep, purpose: Purpose = None
) -> StreamingResponse:
    """The document's content, streamed; only once the malware scan found it clean."""
    download = await documents.download(document_id, caller, purpose)
    document = download.document
    return StreamingResponse(
        download.chunks,
        media_type=document.media_type,
        headers={
            "Content-Length": str(document.size_bytes),
            "Content-Disposition": _content_disposition(document.display_name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@router.post(
    "/documents/{document_id}/review",
    response_model=DocumentOut,
    responses=problem_responses(
        *ACCESS_PROBLEMS, DocumentNotFound, ReviewNotAllowed, ValidationFailed
    ),
)
async def review_document(
    document_id: DocumentId,
    decision: ReviewIn,
    caller: CallerDep,
    documents: DocumentsDep,
    bell: RoomBellDep,
    background: BackgroundTasks,
) -> DocumentOut:
    """A clerk accepts the document or asks for a replacement, with a reason the citizen sees."""
    document = await documents.review(document_id, caller, decision)
    ring_after_commit(background, bell, document.booking_id)
    return DocumentOut.model_validate(document)


@router.delete(
    "/documents/{document_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(
        *ACCESS_PROBLEMS, DocumentNotFound, CitizenOnly, SentByOffice, ValidationFailed
    ),
)
async def delete_document(
    document_id: DocumentId,
    caller: CallerDep,
    documents: DocumentsDep,
    blobs: BlobStoreDep,
    bell: RoomBellDep,
    background: BackgroundTasks,
) -> Response:
    """The citizen withdraws a document: its key is destroyed, then its blob removed."""
    document = await documents.delete(document_id, caller)
    # After the commit (which destroys the key), so a rollback never leaves a row without blob.
    background.add_task(blobs.delete, document.blob_id)
    ring_after_commit(background, bell, document.booking_id)
    return Response(status_code=204)
