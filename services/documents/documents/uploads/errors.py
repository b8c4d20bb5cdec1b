from __future__ import annotations

from servicekit.problems import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Problem,
    UnsupportedMediaType,
    ValidationFailed,
)


class DocumentNotFound(NotFound):
    type_slug = "document-not-found"
    title = "No such document, or not yours"


class ChecklistItemNotFound(NotFound):
    type_slug = "checklist-item-not-found"
    title = "The booking's checklist has no such item"


class UploadTooLarge(PayloadTooLarge):
    type_slug = "upload-too-large"
    title = "The file is larger than allowed"

    def __init__(self, detail: str | None = None, *, limit_bytes: int) -> None:
        # Closing the connection stops the rest of an oversized body at the socket, instead of
        # the server reading (and dropping) whatever the client keeps sending.
        super().__init__(detail, headers={"Connection": "close"}, limit_bytes=limit_bytes)


class TooLargeToScan(PayloadTooLarge):
    # Within the upload limit, beyond what the malware scanner reads (clamd's StreamMaxLength,
    # to be set above every upload limit): never stored unscanned.
    type_slug = "too-large-to-scan"
    title = "The file is larger than the malware scanner reads"


class UnsupportedFileType(UnsupportedMediaType):
    type_slug = "unsupported-file-type"
    title = "This kind of file is not accepted"


class InvalidFileName(ValidationFailed):
    type_slug = "invalid-file-name"
    title = "The file name is not acceptable"


class MissingFile(BadRequest):
    type_slug = "missing-file"
    title = "The request carries no file"


class PurposeRequired(BadRequest):
    type_slug = "purpose-required"
    title = "A clerk must state the purpose of reading a document"


class NotReleased(Conflict):
    type_slug = "document-not-released"
    title = "The document has not passed the malware scan"


class ReviewNotAllowed(Forbidden):
    type_slug = "review-not-allowed"
    title = "Only a clerk of the booking's office reviews documents"


class CitizenOnly(Forbidden):
    type_slug = "citizen-only"
    title = "Only the citizen who owns the booking may do this"


class DocumentIntegrityError(Problem):
    status = 500
    type_slug = "document-integrity-error"
    title = "The stored document failed its integrity check"
