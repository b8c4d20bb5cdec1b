from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from documents.cases.models import (
    CaseKey,
    CaseStatus,
    KeyState,
    ReceivedAttachment,
    ReceivedCase,
    SentCase,
)
from servicekit.repository import Repository


class CaseKeyRepository(Repository[CaseKey]):
    model = CaseKey

    async def active(self, use: str) -> CaseKey | None:
        return await self.session.scalar(
            select(CaseKey).where(CaseKey.use == use, CaseKey.state == KeyState.ACTIVE)
        )

    async def published(self) -> Sequence[CaseKey]:
        """Active and passive keys, the active ones first."""
        result = await self.session.scalars(
            select(CaseKey)
            .where(CaseKey.state != KeyState.RETIRED)
            .order_by(CaseKey.state, CaseKey.created_at.desc(), CaseKey.kid)
        )
        return result.all()

    async def add_if_possible(self, key: CaseKey) -> bool:
        """Insert ``key``; False when the one-active-key rule refused it (a race was lost)."""
        try:
            async with self.session.begin_nested():
                self.session.add(key)
        except IntegrityError:
            return False
        return True


class SentCaseRepository(Repository[SentCase]):
    model = SentCase

    async def open_for(self, tenant: str, booking_id: str, to_ags: str) -> SentCase | None:
        """The hand-over of this booking to this partner that was not rejected."""
        return await self.session.scalar(
            select(SentCase).where(
                SentCase.tenant == tenant,
                SentCase.booking_id == booking_id,
                SentCase.to_ags == to_ags,
                SentCase.status != CaseStatus.REJECTED,
            )
        )

    async def add_if_possible(self, case: SentCase) -> bool:
        """Insert ``case``; False when another open hand-over of the booking won the race."""
        try:
            async with self.session.begin_nested():
                self.session.add(case)
        except IntegrityError:
            return False
        return True

    async def of(self, tenant: str, booking_id: str | None = None) -> Sequence[SentCase]:
        query = select(SentCase).where(SentCase.tenant == tenant)
        if booking_id is not None:
            query = query.where(SentCase.booking_id == booking_id)
        result = await self.session.scalars(
            query.order_by(SentCase.created_at.desc(), SentCase.id).limit(500)
        )
        return result.all()


class ReceivedCaseRepository(Repository[ReceivedCase]):
    model = ReceivedCase

    async def locked(self, tenant: str, case_id: str) -> ReceivedCase | None:
        """The case, its row locked (PostgreSQL) until the transaction ends."""
        return await self.session.get(ReceivedCase, (tenant, case_id), with_for_update=True)

    async def of(self, tenant: str) -> Sequence[ReceivedCase]:
        result = await self.session.scalars(
            select(ReceivedCase)
            .where(ReceivedCase.tenant == tenant)
            .order_by(ReceivedCase.created_at.desc(), ReceivedCase.id)
            .limit(500)
        )
        return result.all()

    async def add_if_possible(self, case: ReceivedCase) -> bool:
        try:
            async with self.session.begin_nested():
                self.session.add(case)
        except IntegrityError:
            return False
        return True

    async def attachments(self, tenant: str, case_id: str) -> Sequence[ReceivedAttachment]:
        result = await self.session.scalars(
            select(ReceivedAttachment)
            .where(ReceivedAttachment.tenant == tenant, ReceivedAttachment.case_id == case_id)
            .order_by(ReceivedAttachment.id)
        )
        return result.all()

    async def attachment(
        self, tenant: str, case_id: str, attachment_id: str
    ) -> ReceivedAttachment | None:
        return await self.session.get(ReceivedAttachment, (tenant, case_id, attachment_id))

    async def add_attachment(self, attachment: ReceivedAttachment) -> None:
        self.session.add(attachment)
        await self.session.flush()

    async def drop_attachment(self, attachment: ReceivedAttachment) -> None:
        await self.session.delete(attachment)
        await self.session.flush()

    async def drop_attachments(self, tenant: str, case_id: str) -> list[str]:
        """Delete the case's attachments; the blob ids they had."""
        blob_ids = [a.blob_id for a in await self.attachments(tenant, case_id)]
        await self.session.execute(
            delete(ReceivedAttachment)
            .where(ReceivedAttachment.tenant == tenant, ReceivedAttachment.case_id == case_id)
            .execution_options(synchronize_session=False)
        )
        return blob_ids

    async def known_blobs(self, blob_ids: Sequence[str]) -> set[str]:
        """Those of ``blob_ids`` that a received attachment refers to."""
        if not blob_ids:
            return set()
        result = await self.session.scalars(
            select(ReceivedAttachment.blob_id).where(ReceivedAttachment.blob_id.in_(blob_ids))
        )
        return set(result.all())

    async def delete_case(self, case: ReceivedCase) -> list[str]:
        """Delete the case with its attachments (their keys); the blob ids they had."""
        blob_ids = await self.drop_attachments(case.tenant, case.id)
        await self.session.delete(case)
        await self.session.flush()
        return blob_ids

    async def expired(
        self, now: datetime, tenant: str | None, limit: int
    ) -> Sequence[ReceivedCase]:
        query = select(ReceivedCase).where(
            ReceivedCase.delete_after.is_not(None), ReceivedCase.delete_after <= now
        )
        if tenant is not None:
            query = query.where(ReceivedCase.tenant == tenant)
        result = await self.session.scalars(query.order_by(ReceivedCase.delete_after).limit(limit))
        return result.all()
