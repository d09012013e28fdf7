"""The email outbox: emails are rows written with what caused them, sent later, retried.

Nothing is sent inside a request. ``send_due`` (the ``flask send-mail`` command, or a
serving process's background task) claims what is due, sends it over one SMTP connection and
records each outcome; a mail server that is down costs a retry with backoff, never an email.
Claiming is an ``UPDATE … RETURNING`` guarded by ``claimed_until``, so two processes sending
at once never send the same row twice.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import ColumnElement, func, or_, select, update

from attendance_app.extensions import db
from attendance_app.models import OutboxEmail, utcnow
from attendance_app.services.dialect import insert
from attendance_app.services.transaction import unit_of_work

log = logging.getLogger(__name__)

#: How many emails one pass sends at most (the rest wait for the next pass).
BATCH = 100
#: A sender that crashed mid-batch releases its rows after this long.
CLAIM_FOR = timedelta(minutes=10)
#: Retry after 1, 2, 4 … minutes, never waiting more than an hour.
MAX_BACKOFF = timedelta(hours=1)
SMTP_TIMEOUT = 30


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str
    notification_id: uuid.UUID | None = None
    send_after: datetime | None = None
    dedupe_key: str | None = None


@dataclass(frozen=True)
class SendReport:
    sent: int
    failed: int
    waiting: int  # still unsent after this pass (failed ones included)
    error: str = ""


def mail_enabled() -> bool:
    """Email is on when ``MAIL_SERVER`` is set; otherwise nothing is queued at all."""
    return bool(current_app.config.get("MAIL_SERVER"))


def queue(emails: list[Email]) -> None:
    """Add emails to the outbox in the caller's transaction (one statement)."""
    if not emails:
        return
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "to_address": e.to,
            "subject": e.subject[:300],
            "body": e.body,
            "notification_id": e.notification_id,
            "dedupe_key": e.dedupe_key,
            "created_at": now,
            "next_attempt_at": e.send_after or now,
            "claimed_until": None,
            "attempts": 0,
            "last_error": "",
            "sent_at": None,
        }
        for e in emails
    ]
    db.session.execute(
        insert(OutboxEmail.__table__).on_conflict_do_nothing(index_elements=["dedupe_key"]),
        rows,
    )


@unit_of_work
def queue_test(to: str) -> None:
    """A test email to ``to``, to check the mail settings (``flask send-mail --test``)."""
    queue(
        [
            Email(
                to=to,
                subject="Attendance: test email",
                body="This is a test email from Attendance: the mail settings work.\n",
            )
        ]
    )


def backoff(attempts: int) -> timedelta:
    """The wait before the next try after ``attempts`` failures: 1, 2, 4 … minutes, ≤ 1 h."""
    return min(timedelta(minutes=2 ** max(0, attempts - 1)), MAX_BACKOFF)


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        OutboxEmail.sent_at.is_(None),
        OutboxEmail.next_attempt_at <= now,
        or_(OutboxEmail.claimed_until.is_(None), OutboxEmail.claimed_until < now),
    )


@unit_of_work
def _claim(now: datetime, limit: int) -> list[OutboxEmail]:
    ids = db.session.scalars(
        select(OutboxEmail.id)
        .where(*_due(now))
        .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
        .limit(limit)
    ).all()
    if not ids:
        return []
    # The WHERE is re-checked per row under its lock: a row another sender claimed meanwhile
    # is not returned, so it is ours alone.
    claimed = db.session.scalars(
        update(OutboxEmail)
        .where(OutboxEmail.id.in_(ids), *_due(now))
        .values(claimed_until=now + CLAIM_FOR)
        .returning(OutboxEmail.id)
    ).all()
    return list(
        db.session.scalars(
            select(OutboxEmail)
            .where(OutboxEmail.id.in_(claimed))
            .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id)
            .execution_options(populate_existing=True)
        )
    )


@unit_of_work
def _record(outcomes: dict[uuid.UUID, str], now: datetime) -> None:
    """Write each claimed email's outcome: "" = sent, else the error to retry after."""
    for email_id, error in outcomes.items():
        row = db.session.get(OutboxEmail, email_id)
        if row is None:
            continue
        row.claimed_until = None
        if error:
            row.attempts += 1
            row.last_error = error[:2000]
            row.next_attempt_at = now + backoff(row.attempts)
        else:
            row.sent_at = now
            row.last_error = ""


def _connect() -> smtplib.SMTP:
    config = current_app.config
    host, port = config["MAIL_SERVER"], int(config.get("MAIL_PORT", 25))
    # Certificates and host names are verified (the system's CAs, or SSL_CERT_FILE): without
    # a context, smtplib encrypts to whoever answers, and the SMTP password goes with it.
    context = ssl.create_default_context()
    if config.get("MAIL_USE_SSL"):
        server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT, context=context)
    else:
        server = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
    if config.get("MAIL_USE_TLS") and not config.get("MAIL_USE_SSL"):
        server.starttls(context=context)
    if config.get("MAIL_USERNAME"):
        server.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
    return server


def _message(row: OutboxEmail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = current_app.config.get("MAIL_FROM", "attendance@localhost")
    msg["To"] = row.to_address
    msg["Subject"] = row.subject
    # The row id in the Message-ID lets a receiving system spot a resend after a crash.
    msg["Message-ID"] = make_msgid(idstring=str(row.id))
    msg.set_content(row.body)
    return msg


def send_due(*, now: datetime | None = None, limit: int = BATCH) -> SendReport:
    """Send what is due over one SMTP connection; record each outcome. Never raises for a
    mail server problem: the rows wait for their next attempt and the report says why."""
    if not mail_enabled():
        return SendReport(0, 0, pending_count(), "MAIL_SERVER is not set")
    now = now or utcnow()
    rows = _claim(now, limit)
    if not rows:
        return SendReport(0, 0, pending_count())
    outcomes: dict[uuid.UUID, str] = {}
    error = ""
    try:
        server = _connect()
    except (OSError, smtplib.SMTPException) as exc:
        error = f"Could not reach the mail server: {exc}"
        outcomes = {row.id: error for row in rows}
        _record(outcomes, now)
    else:
        try:
            for row in rows:
                try:
                    message = _message(row)
                except (ValueError, TypeError, LookupError) as exc:
                    # This email cannot be built (e.g. a line break in an address from old
                    # data): it fails alone; the connection and the others are fine.
                    outcomes[row.id] = error = f"Cannot build the email: {exc}"
                    continue
                try:
                    server.send_message(message)
                    outcomes[row.id] = ""
                except (OSError, smtplib.SMTPException, ValueError, UnicodeError) as exc:
                    outcomes[row.id] = error = f"{type(exc).__name__}: {exc}"
                    if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
                        break  # the connection is gone: the rest wait for the next pass
        finally:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                server.quit()
            for row in rows:
                outcomes.setdefault(row.id, error or "Not attempted: the connection was lost.")
            # Whatever happened above, what was sent is recorded as sent: never sent twice.
            _record(outcomes, now)
    if error:
        log.warning("outbox: %s", error)
    failed = sum(1 for e in outcomes.values() if e)
    return SendReport(len(outcomes) - failed, failed, pending_count(), error)


@dataclass(frozen=True)
class Health:
    waiting: int
    failing: int  # waiting emails whose last attempt failed
    last_error: str


def health() -> Health:
    """What an admin needs to see that email works: unsent emails, and the latest error."""
    unsent = OutboxEmail.sent_at.is_(None)
    waiting = pending_count()
    failing = db.session.scalar(
        select(func.count()).select_from(OutboxEmail).where(unsent, OutboxEmail.attempts > 0)
    )
    last_error = db.session.scalar(
        select(OutboxEmail.last_error)
        .where(unsent, OutboxEmail.attempts > 0)
        .order_by(OutboxEmail.next_attempt_at.desc())
        .limit(1)
    )
    return Health(waiting, failing or 0, last_error or "")


def pending_count() -> int:
    return (
        db.session.scalar(
            select(func.count()).select_from(OutboxEmail).where(OutboxEmail.sent_at.is_(None))
        )
        or 0
    )
