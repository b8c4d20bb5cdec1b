"""Mail before it is sent: the message's MIME structure, its headers, templates, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from servicekit.mail import (
    HeaderInjection,
    InvalidAddress,
    InvalidMail,
    Invitation,
    Letterhead,
    MailAddress,
    MailSettings,
    MailTemplates,
    SmtpSecurity,
    as_sent,
    checked_address,
    choose_locale,
    compose,
    masked,
)
from servicekit.settings import Environment

LETTERHEAD = Letterhead(
    sender_name="Stadt Musterstadt, Bürgeramt",
    reply_to="buergeramt@musterstadt.example",
    imprint="Stadt Musterstadt\nMarktplatz 1 <Rathaus>, 99999 Musterstadt",
    imprint_url="https://musterstadt.example/impressum",
    privacy_url="https://musterstadt.example/datenschutz",
)
STARTS = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)  # 09:30 in Berlin


def ics(method: str = "REQUEST", sequence: int = 0) -> str:
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Rathaus//Test//DE",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        "UID:booking-1@rathaus.example",
        f"SEQUENCE:{sequence}",
        "DTSTART:20261207T083000Z",
        "SUMMARY:Personalausweis beantragen, Bürgeramt",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"


def parsed(message: EmailMessage) -> EmailMessage:
    """The message as a recipient's program reads it from the wire."""
    back = message_from_bytes(as_sent(message), policy=default)
    assert isinstance(back, EmailMessage)
    return back


def confirmation(**changes: object) -> EmailMessage:
    values: dict[str, object] = {
        "sender_name": LETTERHEAD.sender_name,
        "sender_address": "noreply@rathaus.example",
        "to": "erika.mustermann@example.org",
        "to_name": "Erika Mustermann",
        "reply_to": LETTERHEAD.reply_to,
        "subject": "Ihr Termin am Montag, 7. Dezember 2026: bestätigt",
        "text": "Guten Tag Frau Mustermann,\nIhr Termin ist bestätigt.\n",
        "html": "<p>Guten Tag Frau Mustermann,</p><p>Ihr Termin ist bestätigt.</p>\n",
        **changes,
    }
    return compose(**values)  # type: ignore[arg-type]


def test_a_mail_has_a_text_and_an_html_alternative_and_reads_back_unchanged() -> None:
    mail = parsed(confirmation())

    assert mail.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in mail.iter_parts()] == ["text/plain", "text/html"]
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().splitlines() == [
        "Guten Tag Frau Mustermann,",
        "Ihr Termin ist bestätigt.",
    ]
    assert "<p>Ihr Termin ist bestätigt.</p>" in html.get_content()
    assert str(mail["Subject"]) == "Ihr Termin am Montag, 7. Dezember 2026: bestätigt"
    [sender] = mail["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (
        "Stadt Musterstadt, Bürgeramt",
        "noreply@rathaus.example",
    )
    [to] = mail["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Erika Mustermann", "erika.mustermann@example.org")
    assert str(mail["Reply-To"]) == "buergeramt@musterstadt.example"
    assert str(mail["Message-ID"]).endswith("@rathaus.example>")
    assert mail["Date"].datetime.tzinfo is not None
    assert str(mail["Auto-Submitted"]) == "auto-generated"


def test_the_sent_bytes_are_seven_bit_with_crlf_lines() -> None:
    raw = as_sent(confirmation(invitation=Invitation(ics(), "REQUEST")))

    assert raw.isascii()
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")


@pytest.mark.parametrize(("method", "sequence"), [("REQUEST", 2), ("CANCEL", 3)])
def test_an_invitation_is_an_imip_part_and_an_ics_attachment(method: str, sequence: int) -> None:
    calendar = ics(method, sequence)
    mail = parsed(confirmation(invitation=Invitation(calendar, method)))  # type: ignore[arg-type]

    assert mail.get_content_type() == "multipart/mixed"
    alternative, attachment = mail.iter_parts()
    kinds = [part.get_content_type() for part in alternative.iter_parts()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    *_, part = alternative.iter_parts()
    assert part.get_param("method") == method
    assert part.get_content_charset() == "utf-8"
    assert part.get_content().replace("\r\n", "\n") == calendar.replace("\r\n", "\n")
    assert f"SEQUENCE:{sequence}" in part.get_content()
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invitation.ics"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_content() == calendar.encode()


def test_an_invitation_whose_part_and_object_disagree_on_the_method_is_refused() -> None:
    with pytest.raises(InvalidMail, match="METHOD"):
        Invitation(ics("REQUEST"), "CANCEL")


@pytest.mark.parametrize(
    "field",
    [
        {"subject": "Termin\r\nBcc: everyone@example.org"},
        {"subject": "Termin\nBcc: everyone@example.org"},
        {"to_name": "Erika\r\nBcc: everyone@example.org"},
        {"sender_name": "Stadt\rBcc: everyone@example.org"},
        {"to": "erika@example.org\r\nBcc: everyone@example.org"},
        {"reply_to": "a@example.org\nBcc: everyone@example.org"},
    ],
)
def test_a_line_break_in_any_header_value_is_refused(field: dict[str, str]) -> None:
    with pytest.raises(HeaderInjection):
        confirmation(**field)


@pytest.mark.parametrize(
    "address",
    [
        "erika",
        "erika@",
        "@example.org",
        "erika@example",
        "erika@@example.org",
        "erika mustermann@example.org",
        "Erika <erika@example.org>",
        "erika@example.org, mallory@example.org",
        '"erika"@example.org',
        "erika.@example.org",
        "er..ika@example.org",
        "erika@[127.0.0.1]",
        "erika@-example.org",
        "erika@example.123",
        "müller@example.org",
        "e" * 65 + "@example.org",
    ],
)
def test_an_invalid_address_is_refused(address: str) -> None:
    with pytest.raises(InvalidAddress):
        checked_address(address)
    with pytest.raises(InvalidAddress):
        confirmation(to=address)


def test_valid_addresses_pass_and_an_international_domain_becomes_idna() -> None:
    assert checked_address("erika.mustermann+termin@example.org") == (
        "erika.mustermann+termin@example.org"
    )
    assert checked_address("o'neill@sub.example.co.uk") == "o'neill@sub.example.co.uk"
    assert checked_address("erika@müllheim.example") == "erika@xn--mllheim-n2a.example"


def test_an_invalid_address_in_a_request_body_fails_validation() -> None:
    class Body(BaseModel):
        email: MailAddress

    assert Body(email="erika@example.org").email == "erika@example.org"
    with pytest.raises(ValidationError, match="not a mail address"):
        Body(email="erika@example")
    with pytest.raises(ValidationError, match="line break"):
        Body(email="erika@example.org\r\nBcc: x@example.org")


@pytest.mark.parametrize(
    "address",
    [
        "eri\x00ka@example.org",
        "erika@example.org\x00",
        "\x1ferika@example.org",
        "erika\t@example.org",
        "erika@exam\u200bple.org",
        "erika@example.org\x7f",
        "erika@b\u00fccher.example\u202e",
    ],
)
def test_an_address_with_a_control_or_invisible_character_is_refused(address: str) -> None:
    class Body(BaseModel):
        email: MailAddress

    with pytest.raises(InvalidAddress, match="control or invisible"):
        checked_address(address)
    with pytest.raises(ValidationError, match="control or invisible"):
        Body(email=address)


def test_operators_see_recipients_masked() -> None:
    assert masked("erika.mustermann@example.org") == "e***@example.org"
    assert masked("") == "***"


# -- templates -------------------------------------------------------------------------------


def write_templates(folder: Path) -> Path:
    for locale, greeting in (("de", "Guten Tag"), ("en", "Hello")):
        (folder / locale).mkdir(parents=True, exist_ok=True)
        (folder / locale / "confirmation.subject.txt").write_text(
            "{{ 'Ihr Termin' if locale == 'de' else 'Your appointment' }}: "
            "{{ starts_at|datetime }}\n",
            encoding="utf-8",
        )
        (folder / locale / "confirmation.txt").write_text(
            f"{greeting} {{{{ name }}}},\n{{{{ starts_at|date }}}} {{{{ starts_at|time }}}}\n"
            f"{{{{ fee|money }}}}\n{{% include '{locale}/_footer.txt' %}}",
            encoding="utf-8",
        )
        (folder / locale / "confirmation.html").write_text(
            f"<p>{greeting} {{{{ name }}}},</p>\n<p>{{{{ starts_at|datetime }}}}</p>\n"
            f"{{% include '{locale}/_footer.html' %}}",
            encoding="utf-8",
        )
    return folder


CONTEXT = {"name": "<Erika> & Co", "starts_at": STARTS, "fee": Decimal("12.50")}


def test_a_german_mail_shows_the_local_time_in_german(tmp_path: Path) -> None:
    templates = MailTemplates([write_templates(tmp_path)])

    mail = templates.render("confirmation", CONTEXT, letterhead=LETTERHEAD, locale="de")

    assert mail.subject == "Ihr Termin: Montag, 7. Dezember 2026, 09:30"
    assert mail.text.startswith(
        "Guten Tag <Erika> & Co,\nMontag, 7. Dezember 2026 09:30\n12,50\xa0€\n"
    )
    assert "Datenschutzhinweise: https://musterstadt.example/datenschutz" in mail.text
    assert "Impressum: https://musterstadt.example/impressum" in mail.text


def test_an_english_mail_in_another_time_zone(tmp_path: Path) -> None:
    templates = MailTemplates([write_templates(tmp_path)])

    mail = templates.render(
        "confirmation", CONTEXT, letterhead=LETTERHEAD, locale="en", time_zone="Europe/London"
    )

    assert mail.subject == "Your appointment: Monday, December 7, 2026, 8:30\u202fAM"
    assert "€12.50" in mail.text
    assert "Privacy notice: https://musterstadt.example/datenschutz" in mail.text


def test_the_html_part_is_escaped_and_the_text_part_is_not(tmp_path: Path) -> None:
    templates = MailTemplates([write_templates(tmp_path)])

    mail = templates.render("confirmation", CONTEXT, letterhead=LETTERHEAD, locale="de")

    assert "<p>Guten Tag &lt;Erika&gt; &amp; Co,</p>" in mail.html
    assert "Marktplatz 1 &lt;Rathaus&gt;, 99999 Musterstadt" in mail.html
    assert "Stadt Musterstadt<br>Marktplatz 1" in mail.html
    assert '<a href="https://musterstadt.example/datenschutz">' in mail.html
    assert "Guten Tag <Erika> & Co," in mail.text


def test_a_municipality_s_own_templates_come_first(tmp_path: Path) -> None:
    service = write_templates(tmp_path / "service")
    own = tmp_path / "municipality"
    (own / "06999001" / "de").mkdir(parents=True)
    (own / "06999001" / "de" / "confirmation.subject.txt").write_text(
        "Musterstadt bestätigt Ihren Termin\n", encoding="utf-8"
    )
    templates = MailTemplates([own, service])

    ours = templates.render(
        "confirmation", CONTEXT, letterhead=LETTERHEAD, locale="de", tenant="06999001"
    )
    theirs = templates.render(
        "confirmation", CONTEXT, letterhead=LETTERHEAD, locale="de", tenant="06999002"
    )

    assert ours.subject == "Musterstadt bestätigt Ihren Termin"
    assert ours.text == theirs.text  # the files it has not changed come from the service
    assert theirs.subject.startswith("Ihr Termin: ")


def test_a_variable_the_service_did_not_pass_is_an_error(tmp_path: Path) -> None:
    templates = MailTemplates([write_templates(tmp_path)])

    with pytest.raises(Exception, match="'name' is undefined"):
        templates.render(
            "confirmation", {"starts_at": STARTS, "fee": 1}, letterhead=LETTERHEAD, locale="de"
        )


def test_a_naive_datetime_is_not_shown(tmp_path: Path) -> None:
    templates = MailTemplates([write_templates(tmp_path)])
    naive = {**CONTEXT, "starts_at": datetime(2026, 12, 7, 9, 30)}

    with pytest.raises(ValueError, match="naive"):
        templates.render("confirmation", naive, letterhead=LETTERHEAD, locale="de")


def test_a_template_cannot_reach_python_internals(tmp_path: Path) -> None:
    (tmp_path / "de").mkdir()
    for suffix in (".subject.txt", ".txt", ".html"):
        (tmp_path / "de" / f"evil{suffix}").write_text(
            "{{ name.__class__.__mro__[1].__subclasses__() }}", encoding="utf-8"
        )

    with pytest.raises(Exception, match="unsafe"):
        MailTemplates([tmp_path]).render("evil", {"name": "x"}, letterhead=LETTERHEAD, locale="de")


@pytest.mark.parametrize(
    ("preferred", "chosen"),
    [
        (None, "de"),
        ("en", "en"),
        ("en-GB", "en"),
        ("en-US,en;q=0.9,de;q=0.8", "en"),
        ("de;q=0.5, en;q=0.8", "en"),
        ("fr-FR, fr;q=0.9", "de"),
        ("fr, en;q=0.1", "en"),
        ("en;q=0, de;q=0.1", "de"),
        ("en;q=bogus", "de"),
    ],
)
def test_the_language_follows_the_booking_or_accept_language(
    preferred: str | None, chosen: str
) -> None:
    assert choose_locale(preferred) == chosen


# -- settings --------------------------------------------------------------------------------


class BookingLikeSettings(MailSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKINGLIKE_", extra="ignore", frozen=True)


PRODUCTION = {
    "environment": Environment.PRODUCTION,
    "database_url": "postgresql+asyncpg://db/rathaus",
    "mail_from_address": "termine@musterstadt.example",
}


def test_production_refuses_to_start_without_an_smtp_server() -> None:
    with pytest.raises(ValidationError, match="no SMTP server configured") as refused:
        BookingLikeSettings(**PRODUCTION)  # type: ignore[arg-type]

    assert "BOOKINGLIKE_MAIL_SMTP_HOST" in str(refused.value)


def test_production_with_an_smtp_server_starts() -> None:
    settings = BookingLikeSettings(
        **PRODUCTION,  # type: ignore[arg-type]
        mail_smtp_host="smtp.musterstadt.example",
        mail_smtp_username="rathaus",
        mail_smtp_password=SecretStr("secret"),
    )

    server = settings.smtp_server()
    assert server is not None
    assert (server.host, server.port, server.security) == (
        "smtp.musterstadt.example",
        587,
        SmtpSecurity.STARTTLS,
    )
    assert settings.mail_give_up_after == timedelta(hours=48)


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        (
            {"mail_smtp_security": "none", "mail_smtp_username": "u", "mail_smtp_password": "p"},
            "SMTP password unencrypted",
        ),
        ({"mail_from_address": "rathaus@rathaus.example"}, "mail_from_address: a placeholder"),
    ],
)
def test_production_refuses_insecure_mail_settings(changes: dict[str, str], refusal: str) -> None:
    values = {**PRODUCTION, "mail_smtp_host": "smtp.musterstadt.example", **changes}
    with pytest.raises(ValidationError, match=refusal):
        BookingLikeSettings(**values)  # type: ignore[arg-type]


def test_development_needs_no_smtp_server_and_the_env_prefix_applies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert BookingLikeSettings().smtp_server() is None
    monkeypatch.setenv("BOOKINGLIKE_MAIL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("BOOKINGLIKE_MAIL_SMTP_PORT", "8025")
    monkeypatch.setenv("BOOKINGLIKE_MAIL_SMTP_SECURITY", "none")

    server = BookingLikeSettings().smtp_server()

    assert server is not None
    assert (server.host, server.port, server.security) == ("127.0.0.1", 8025, SmtpSecurity.NONE)


@pytest.mark.parametrize(
    "changes",
    [
        {"mail_from_address": "not an address"},
        {"mail_from_name": "Rathaus\r\nBcc: x@example.org"},
        {"mail_smtp_username": "only-the-name"},
    ],
)
def test_wrong_mail_settings_are_refused_everywhere(changes: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        BookingLikeSettings(**changes)  # type: ignore[arg-type]


def test_a_date_header_given_keeps_its_instant() -> None:
    at = datetime(2026, 12, 1, 12, 0, tzinfo=timezone(timedelta(hours=1)))

    mail = parsed(confirmation(date=at))

    assert mail["Date"].datetime == at
