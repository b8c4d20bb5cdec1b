"""Mail on its way: the outbox and its dispatcher against a real SMTP server (aiosmtpd on
loopback), with TLS, a server that is down or refuses, and replicas that share the work."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import CollectorRegistry
from pydantic_settings import SettingsConfigDict
from sqlalchemy import MetaData, select
from sqlalchemy.orm import DeclarativeBase

from servicekit.app import create_service_app
from servicekit.cli import run_cli
from servicekit.db import Database, new_metadata, utcnow
from servicekit.mail import (
    Letterhead,
    Mailbox,
    MailColumns,
    MailDispatcher,
    MailSettings,
    MailStatus,
    MailTemplates,
    SmtpSecurity,
    SmtpServer,
    compose,
    pending_mail,
)
from servicekit.mail.router import mail_router
from servicekit.mail.sink import MailSink
from servicekit.testing.clock import ManualClock
from servicekit.testing.live import free_port, run_live_server
from servicekit.testing.postgres import run_in_thread
from servicekit.testing.tokens import TokenFactory

SENDER = "termine@musterstadt.example"
LETTERHEAD = Letterhead(sender_name="Stadt Musterstadt", reply_to="amt@musterstadt.example")


class Base(DeclarativeBase):
    metadata = new_metadata()


class OutboxMail(MailColumns, Base):
    pass


class RefusingSink(MailSink):
    """Refuses ``nobody@`` for good and ``busy@`` for now (4xx) the first ``busy`` times."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.busy = 1

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such mailbox here"
        if address.startswith("busy@") and self.busy:
            self.busy -= 1
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def metadata() -> MetaData:
    return Base.metadata


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[tuple[RefusingSink, int]]:
    server = RefusingSink(tmp_path / "received")
    port = await server.start()
    yield server, port
    await server.stop()


@pytest.fixture
def templates(tmp_path: Path) -> MailTemplates:
    folder = tmp_path / "templates" / "de"
    folder.mkdir(parents=True)
    (folder / "reminder.subject.txt").write_text("Erinnerung: {{ starts_at|datetime }}\n")
    (folder / "reminder.txt").write_text("Guten Tag {{ name }},\n{% include 'de/_footer.txt' %}")
    (folder / "reminder.html").write_text("<p>{{ name }}</p>{% include 'de/_footer.html' %}")
    return MailTemplates([folder.parent], locales=("de",))


def mail(to: str, number: int = 0) -> EmailMessage:
    return compose(
        sender_name="Stadt Musterstadt",
        sender_address=SENDER,
        to=to,
        subject=f"Mail {number}",
        text=f"Nummer {number}\n",
        html=f"<p>Nummer {number}</p>",
    )


async def queue(database: Database, *recipients: str, commit: bool = True) -> None:
    mailbox = Mailbox(OutboxMail, MailTemplates([]), from_address=SENDER)
    async with database.sessionmaker() as session:
        for number, to in enumerate(recipients):
            await mailbox.add(session, mail(to, number), subject_key=f"t:{number}", template="t")
        if commit:
            await session.commit()


async def rows(database: Database) -> list[OutboxMail]:
    async with database.sessionmaker() as session:
        return list(await session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def dispatcher(database: Database, port: int, **options: Any) -> MailDispatcher:
    smtp = options.pop("smtp", None) or SmtpServer(
        "127.0.0.1", port, SmtpSecurity.NONE, timeout_s=5
    )
    return MailDispatcher(
        OutboxMail, database.sessionmaker, smtp=smtp, envelope_from=SENDER, **options
    )


def received(server: MailSink) -> list[EmailMessage]:
    messages = []
    for path in sorted(server.folder.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=default)
        assert isinstance(message, EmailMessage)
        messages.append(message)
    return messages


async def test_a_committed_mail_is_sent_once_exactly_as_it_was_queued(
    database: Database, sink: tuple[RefusingSink, int], templates: MailTemplates
) -> None:
    server, port = sink
    mailbox = Mailbox(OutboxMail, templates, from_address=SENDER)
    async with database.sessionmaker() as session:
        queued = await mailbox.enqueue(
            session,
            subject_key="booking:1",
            template="reminder",
            to="erika@example.org",
            to_name="Erika Mustermann",
            context={"name": "Erika", "starts_at": datetime(2026, 12, 7, 8, 30, tzinfo=dt.UTC)},
            letterhead=LETTERHEAD,
        )
        await session.commit()
    await queue(database, "rolled-back@example.org", commit=False)  # never sent
    registry = CollectorRegistry()
    sender = dispatcher(database, port, registry=registry)

    first = await sender.send_due()
    again = await sender.send_due()

    assert queued
    assert (first, again) == (1, 0)
    [row] = await rows(database)
    assert (row.status, row.attempts, row.last_error) == (MailStatus.SENT, 1, None)
    assert row.finished_at is not None
    [stored] = server.stored
    assert stored.read_bytes() == row.message  # the very bytes the outbox kept
    [message] = received(server)
    assert str(message["Subject"]) == "Erinnerung: Montag, 7. Dezember 2026, 09:30"
    assert str(message["To"]) == "Erika Mustermann <erika@example.org>"
    assert str(message["Reply-To"]) == "amt@musterstadt.example"
    sample = {"template": "reminder", "outcome": "sent"}
    assert registry.get_sample_value("mail_send_attempts_total", sample) == 1


async def test_a_retried_enqueue_of_the_same_mail_mails_once(
    database: Database, sink: tuple[RefusingSink, int], templates: MailTemplates
) -> None:
    server, port = sink
    mailbox = Mailbox(OutboxMail, templates, from_address=SENDER)
    context = {"name": "Erika", "starts_at": utcnow()}

    async def enqueue(sequence: int) -> bool:
        async with database.sessionmaker() as session:
            queued = await mailbox.enqueue(
                session,
                subject_key="booking:1",
                template="reminder",
                sequence=sequence,
                to="erika@example.org",
                context=context,
                letterhead=LETTERHEAD,
            )
            await session.commit()
            return queued

    answers = [await enqueue(0), await enqueue(0), await enqueue(1)]
    await dispatcher(database, port).send_due()
    retried = await enqueue(0)  # after it was sent, too

    assert answers == [True, False, True]
    assert retried is False
    assert len(server.stored) == 2
    assert [row.sequence for row in await rows(database)] == [0, 1]


def self_signed(folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 and the certificate (PEM) a client trusts it by."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rathaus-test-smtp")])
    now = datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "smtp.pem", folder / "smtp.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


class TlsSettings(MailSettings):
    model_config = SettingsConfigDict(env_prefix="TLSTEST_", extra="ignore", frozen=True)


@pytest.mark.parametrize("security", [SmtpSecurity.STARTTLS, SmtpSecurity.TLS])
@pytest.mark.parametrize("password", ["right", "wrong"])
async def test_mail_goes_over_tls_with_the_login_from_the_settings(
    database: Database, tmp_path: Path, security: SmtpSecurity, password: str
) -> None:
    server_context, certificate = self_signed(tmp_path)
    logins: list[str] = []

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        assert server.transport is not None
        assert server.transport.get_extra_info("ssl_object") is not None  # never in the clear
        if (data.login, data.password) != (b"rathaus", b"right"):
            return AuthResult(success=False, handled=False)
        logins.append(data.login.decode())
        return AuthResult(success=True)

    tls_sink = MailSink(
        tmp_path / "received",
        tls_context=server_context,
        implicit_tls=security is SmtpSecurity.TLS,
        authenticator=authenticator,
    )
    port = await tls_sink.start()
    settings = TlsSettings(
        mail_smtp_host="127.0.0.1",
        mail_smtp_port=port,
        mail_smtp_security=security,
        mail_smtp_username="rathaus",
        mail_smtp_password=password,  # type: ignore[arg-type]
        mail_smtp_ca_file=certificate,
        mail_from_address=SENDER,
    )
    await queue(database, "erika@example.org")
    sender = MailDispatcher.of_service(settings, OutboxMail, database.sessionmaker)
    assert sender is not None
    try:
        sent = await sender.send_due()
    finally:
        await tls_sink.stop()

    [row] = await rows(database)
    if password == "right":
        assert (sent, logins, len(tls_sink.stored)) == (1, ["rathaus"], 1)
        assert row.status == MailStatus.SENT
    else:
        assert (sent, tls_sink.stored) == (0, [])
        assert row.status == MailStatus.PENDING
        assert row.last_error is not None
        assert row.last_error.startswith("connection refused: 535")


async def test_a_server_that_does_not_present_a_trusted_certificate_gets_no_mail(
    database: Database, tmp_path: Path
) -> None:
    server_context, _ = self_signed(tmp_path)
    tls_sink = MailSink(tmp_path / "received", tls_context=server_context, implicit_tls=True)
    port = await tls_sink.start()
    await queue(database, "erika@example.org")
    smtp = SmtpServer("127.0.0.1", port, SmtpSecurity.TLS, timeout_s=5)  # system trust
    try:
        sent = await dispatcher(database, port, smtp=smtp).send_due()
    finally:
        await tls_sink.stop()

    [row] = await rows(database)
    assert (sent, tls_sink.stored, row.status) == (0, [], MailStatus.PENDING)
    assert row.last_error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in row.last_error


async def test_mail_queued_while_the_server_is_down_is_all_delivered_once_it_is_up(
    database: Database, tmp_path: Path
) -> None:
    port = free_port()
    recipients = [f"citizen{number}@example.org" for number in range(5)]
    await queue(database, *recipients)
    clock = ManualClock()
    sender = dispatcher(database, port, clock=clock, pauses_s=(10, 60))

    down = await sender.send_due()
    after_down = await rows(database)
    too_early = await sender.send_due()
    up = MailSink(tmp_path / "received")
    await up.start(port=port)
    clock.now += timedelta(seconds=10)
    try:
        delivered = await sender.send_due()
    finally:
        await up.stop()

    assert (down, too_early, delivered) == (0, 0, 5)
    assert {row.attempts for row in after_down} == {1}
    assert {row.next_attempt_at for row in after_down} == {clock.now}
    assert all(row.last_error and row.last_error.startswith("not reached") for row in after_down)
    assert sorted(str(m["To"]) for m in received(up)) == recipients
    assert {row.status for row in await rows(database)} == {MailStatus.SENT}


async def test_a_permanent_refusal_is_recorded_and_a_passing_one_is_tried_again(
    database: Database, sink: tuple[RefusingSink, int]
) -> None:
    server, port = sink
    await queue(database, "nobody@example.org", "busy@example.org", "erika@example.org")
    clock = ManualClock()
    registry = CollectorRegistry()
    sender = dispatcher(database, port, clock=clock, pauses_s=(30,), registry=registry)

    first = await sender.send_due()
    clock.now += timedelta(seconds=30)
    second = await sender.send_due()
    third = await sender.send_due()

    assert (first, second, third) == (1, 1, 0)
    refused, busy, erika = await rows(database)
    assert (refused.status, refused.attempts) == (MailStatus.FAILED, 1)
    assert refused.last_error == "answered 550 5.1.1 No such mailbox here"
    assert refused.finished_at == clock.now - timedelta(seconds=30)
    assert (busy.status, busy.attempts, busy.last_error) == (
        MailStatus.SENT,
        2,
        "answered 451 4.3.0 Try again later",
    )
    assert erika.status == MailStatus.SENT
    assert sorted(str(m["To"]) for m in received(server)) == [
        "busy@example.org",
        "erika@example.org",
    ]

    def count(outcome: str) -> float | None:
        return registry.get_sample_value(
            "mail_send_attempts_total", {"template": "t", "outcome": outcome}
        )

    assert (count("sent"), count("refused"), count("deferred")) == (2, 1, 1)


async def test_a_mail_not_taken_within_the_give_up_time_fails_with_the_reason(
    database: Database,
) -> None:
    await queue(database, "erika@example.org")
    clock = ManualClock()
    sender = dispatcher(
        database, free_port(), clock=clock, pauses_s=(60,), give_up_after=timedelta(hours=1)
    )

    await sender.send_due()
    clock.now += timedelta(minutes=59)
    await sender.send_due()
    [still_trying] = await rows(database)
    clock.now += timedelta(minutes=2)
    await sender.send_due()

    [given_up] = await rows(database)
    assert (still_trying.status, still_trying.attempts) == (MailStatus.PENDING, 2)
    assert (given_up.status, given_up.attempts) == (MailStatus.FAILED, 3)
    assert given_up.last_error is not None
    assert given_up.last_error.startswith("gave up after 1 h and 3 attempts; last: not reached")
    assert given_up.message is not None  # kept for the municipality to retry


async def test_operators_see_pending_and_failed_mail_masked_and_can_retry_it(
    database: Database, sink: tuple[RefusingSink, int]
) -> None:
    server, port = sink
    nothing = await pending_mail(OutboxMail, database.sessionmaker)
    await queue(database, "nobody@example.org", "busy@example.org")
    sender = dispatcher(database, port)
    await sender.send_due()  # nobody: refused; busy: deferred

    report = await pending_mail(OutboxMail, database.sessionmaker)
    retry = await pending_mail(OutboxMail, database.sessionmaker, retry=True)
    delivered = await sender.send_due()

    assert nothing == "every mail has been sent"
    lines = report.splitlines()
    assert lines[0] == "1 pending, 1 failed"
    assert lines[1].startswith("#2 t t:1 to b***@example.org: next ")
    assert lines[1].endswith("1 attempts, last error: answered 451 4.3.0 Try again later")
    assert lines[2] == (
        "#1 t t:0 to n***@example.org: failed, 1 attempts, last error: answered 550 5.1.1 "
        "No such mailbox here"
    )
    assert "busy" not in report
    assert "nobody" not in report
    assert [": due now, " in line for line in retry.splitlines()[1:]] == [True, True]
    assert delivered == 1  # busy; nobody is refused again
    refused, sent = await rows(database)
    assert (refused.status, refused.attempts) == (MailStatus.FAILED, 2)
    assert (sent.status, sent.attempts) == (MailStatus.SENT, 2)
    assert [str(message["To"]) for message in received(server)] == ["busy@example.org"]


async def test_a_sent_mail_is_erased_after_a_while_and_never_queued_again(
    database: Database, sink: tuple[RefusingSink, int]
) -> None:
    server, port = sink
    await queue(database, "erika@example.org")
    sender = dispatcher(database, port)
    await sender.send_due()
    now = utcnow()

    too_soon = await sender.erase_finished(MailStatus.SENT, now - timedelta(days=7))
    erased = await sender.erase_finished(MailStatus.SENT, now + timedelta(seconds=1))
    await queue(database, "erika@example.org")  # the same key again
    again = await sender.send_due()

    assert (too_soon, erased, again) == (0, 1, 0)
    [row] = await rows(database)
    assert (row.message, row.recipient, row.status) == (None, "", MailStatus.SENT)
    assert len(server.stored) == 1


@pytest.mark.slow
async def test_two_dispatchers_deliver_200_mails_each_exactly_once(
    database: Database, empty_database_url: str, sink: tuple[RefusingSink, int]
) -> None:
    server, port = sink
    await queue(database, *(f"citizen{number}@example.org" for number in range(200)))

    def replica() -> int:
        """A replica of its own: its own thread, event loop, engine and connections."""

        async def work() -> int:
            own = Database(empty_database_url)
            try:
                return await dispatcher(own, port, batch=10).send_due()
            finally:
                await own.dispose()

        return asyncio.run(work())

    sent = await asyncio.gather(asyncio.to_thread(replica), asyncio.to_thread(replica))

    assert sum(sent) == 200
    message_ids = [str(message["Message-ID"]) for message in received(server)]
    assert len(message_ids) == len(set(message_ids)) == 200
    recipients = sorted(str(message["To"]) for message in received(server))
    assert recipients == sorted(f"citizen{number}@example.org" for number in range(200))
    assert {(row.status, row.attempts) for row in await rows(database)} == {(MailStatus.SENT, 1)}


class ServiceSettingsWithMail(MailSettings):
    model_config = SettingsConfigDict(env_prefix="MAILAPP_", extra="ignore", frozen=True)


async def test_a_service_app_sends_its_mailbox_in_the_background_and_lists_it(
    empty_database_url: str,
    database: Database,
    sink: tuple[RefusingSink, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, port = sink
    settings = ServiceSettingsWithMail(
        service_name="mailapp",
        database_url=empty_database_url,
        mail_smtp_host="127.0.0.1",
        mail_smtp_port=port,
        mail_smtp_security=SmtpSecurity.NONE,
        mail_from_address=SENDER,
        mail_dispatch_interval_s=0.05,
    )

    def create_app(given: Any) -> Any:
        mailbox = Mailbox.of_service(given, OutboxMail, MailTemplates([]))
        return create_service_app(given, title="t", version="1", description="d", mailbox=mailbox)

    await queue(database, "erika@example.org", "nobody@example.org")
    live = run_live_server(create_app(settings))
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if MailStatus.PENDING not in {row.status for row in await rows(database)}:
                break
            await asyncio.sleep(0.05)
    finally:
        live.stop()
    run_in_thread(
        lambda: run_cli(
            settings=settings, create_app=create_app, service_dir=Path("."), argv=["mail"]
        )
    )

    assert [str(message["To"]) for message in received(server)] == ["erika@example.org"]
    out = capsys.readouterr().out
    assert out.startswith("0 pending, 1 failed\n#2 t t:1 to n***@example.org: failed")


async def test_the_municipalitys_admin_sees_what_failed_to_reach_its_citizens(
    empty_database_url: str,
    database: Database,
    sink: tuple[RefusingSink, int],
    tokens: TokenFactory,
) -> None:
    _, port = sink
    settings = ServiceSettingsWithMail(
        service_name="mailapp",
        database_url=empty_database_url,
        mail_smtp_host="127.0.0.1",
        mail_smtp_port=port,
        mail_smtp_security=SmtpSecurity.NONE,
        mail_from_address=SENDER,
        mail_dispatch_interval_s=0.05,
    )
    mailbox = Mailbox.of_service(settings, OutboxMail, MailTemplates([]))
    app = create_service_app(
        settings,
        title="t",
        version="1",
        description="d",
        mailbox=mailbox,
        routers=[mail_router("/mailapp/v1")],
    )
    tokens.trust(app)
    async with database.sessionmaker() as session:
        for number, (to, tenant) in enumerate(
            [
                ("nobody@example.org", "06999001"),
                ("erika@example.org", "06999001"),
                ("nobody@example.net", "06999002"),
            ]
        ):
            await mailbox.add(
                session, mail(to, number), subject_key=f"b:{number}", template="t", tenant=tenant
            )
        await session.commit()
    admin = tokens.headers(sub="admin-1", tenant="06999001", roles=["admin"])
    live = run_live_server(app)
    try:
        async with httpx.AsyncClient(base_url=live.url) as client:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                pending = await client.get(
                    "/mailapp/v1/tenants/06999001/mail", params={"status": "pending"}, headers=admin
                )
                if pending.status_code == 200 and not pending.json()["items"]:
                    break
                await asyncio.sleep(0.05)
            failed = await client.get("/mailapp/v1/tenants/06999001/mail", headers=admin)
            other = await client.get("/mailapp/v1/tenants/06999002/mail", headers=admin)
            clerk = await client.get(
                "/mailapp/v1/tenants/06999001/mail",
                headers=tokens.headers(sub="clerk-1", tenant="06999001", roles=["clerk"]),
            )
            anonymous = await client.get("/mailapp/v1/tenants/06999001/mail")
            sent = await client.get(
                "/mailapp/v1/tenants/06999001/mail", params={"status": "sent"}, headers=admin
            )
    finally:
        live.stop()

    assert failed.status_code == 200, failed.text
    [item] = failed.json()["items"]
    assert item["recipient"] == "n***@example.org"
    assert item["status"] == "failed"
    assert item["last_error"] == "answered 550 5.1.1 No such mailbox here"
    assert item["about"] == "b:0"
    assert "nobody" not in failed.text  # masked, and the other municipality's is not listed
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    assert clerk.status_code == 403
    assert anonymous.status_code == 401
    assert sent.status_code == 422
