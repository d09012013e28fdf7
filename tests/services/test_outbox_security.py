"""The sender checks who it talks to (TLS certificates) and fails one email at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import OutboxEmail, utcnow
from attendance_app.services.notifying import outbox
from tests.mail import self_signed_certificate, smtp_server, starttls_smtp_server


def _queue(app, *emails: outbox.Email) -> None:
    with app.app_context():
        from attendance_app.services.transaction import unit_of_work

        unit_of_work(lambda: outbox.queue(list(emails)))()
        db.session.remove()


def _send(app, now=None) -> outbox.SendReport:
    with app.app_context():
        report = outbox.send_due(now=now)
        db.session.remove()
    return report


def _rows(app) -> dict[str, OutboxEmail]:
    with app.app_context():
        rows = db.session.scalars(select(OutboxEmail)).all()
        db.session.remove()
    return {row.to_address: row for row in rows}


@pytest.fixture
def certificate(tmp_path):
    return self_signed_certificate(tmp_path)


@pytest.fixture
def starttls(app, monkeypatch, certificate):
    cert, key = certificate
    with starttls_smtp_server(cert, key) as (inbox, port):
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", port)
        monkeypatch.setitem(app.config, "MAIL_USE_TLS", True)
        yield inbox


def test_starttls_to_a_server_whose_certificate_is_not_trusted_sends_nothing(app, starttls):
    _queue(app, outbox.Email(to="head@school.test", subject="Alert", body="Private.\n"))

    report = _send(app)

    assert (report.sent, report.failed) == (0, 1)
    assert "CERTIFICATE_VERIFY_FAILED" in report.error
    assert starttls.messages == []
    assert _rows(app)["head@school.test"].sent_at is None  # waits for a retry


def test_starttls_to_a_trusted_server_sends(app, starttls, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])  # as an operator with a private CA

    _queue(app, outbox.Email(to="head@school.test", subject="Alert", body="Private.\n"))
    report = _send(app)

    assert (report.sent, report.failed) == (1, 0)
    assert [m["To"] for m in starttls.messages] == ["head@school.test"]


@pytest.fixture
def smtp(app, monkeypatch):
    with smtp_server() as (inbox, port):
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", port)
        yield inbox


def test_an_email_that_cannot_be_built_fails_alone_and_the_others_are_sent_once(app, smtp):
    # Rows written before names and emails were checked for line breaks (or by a bug).
    _queue(
        app,
        outbox.Email(to="first@school.test", subject="One", body="1\n"),
        outbox.Email(to="bad@school.test\r\nBcc: all@school.test", subject="Two", body="2\n"),
        outbox.Email(to="third@school.test", subject="Three\r\nX-Evil: 1", body="3\n"),
        outbox.Email(to="fourth@school.test", subject="Four", body="4\n"),
    )

    first = _send(app)
    again = _send(app, now=utcnow() + timedelta(hours=2))  # past every backoff

    assert (first.sent, first.failed) == (2, 2)
    assert (again.sent, again.failed) == (0, 2)
    assert sorted(m["To"] for m in smtp.messages) == ["first@school.test", "fourth@school.test"]
    rows = _rows(app)
    assert rows["first@school.test"].sent_at is not None
    assert rows["fourth@school.test"].sent_at is not None
    bad = rows["bad@school.test\r\nBcc: all@school.test"]
    assert bad.sent_at is None and bad.attempts == 2 and bad.claimed_until is None
    assert "Cannot build the email" in bad.last_error
