"""The email outbox, against a real SMTP server (aiosmtpd): emails are written with what
caused them, sent when due, and survive a mail server that is down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import Channel, OutboxEmail, utcnow
from attendance_app.services.marking import attendance
from attendance_app.services.notifying import outbox
from tests.factories import (
    actor,
    end_session,
    make_admin,
    make_class,
    make_session,
    mark,
    run_sessions,
)
from tests.mail import free_port, smtp_server

START = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
LATER = timedelta(hours=1)  # past the alert delay


@pytest.fixture
def smtp(app, monkeypatch):
    """A real SMTP server on 127.0.0.1, and the app configured to send to it."""
    with smtp_server() as (received, port):
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", port)
        monkeypatch.setitem(app.config, "MAIL_FROM", "attendance@school.test")
        yield received


def outbox_rows(app) -> list[OutboxEmail]:
    with app.app_context():
        rows = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.to_address)).all()
        db.session.remove()
    return list(rows)


def send(app, now: datetime | None = None) -> outbox.SendReport:
    with app.app_context():
        report = outbox.send_due(now=now)
        db.session.remove()
    return report


def cross_the_line(app):
    """A class whose first student has just crossed into high risk (3 absences in a row);
    its sessions left ACTIVE, so the student has no end-of-session notices."""
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)
    plan = [{klass.students[0]: s} for s in ["PRESENT"] * 7 + ["ABSENT"] * 3]
    run_sessions(app, klass, plan, first_start=START)
    return klass, admin


def test_an_alert_queues_one_email_per_recipient_sent_once_the_delay_has_passed(
    app, smtp, monkeypatch
):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://attendance.school.test/")
    klass, admin = cross_the_line(app)

    rows = outbox_rows(app)
    assert sorted(r.to_address for r in rows) == sorted([admin.email, klass.teacher.email])
    assert send(app).sent == 0  # the alert waits, so a correction in class can withdraw it

    report = send(app, utcnow() + LATER)

    assert (report.sent, report.failed, report.waiting) == (2, 0, 0)
    assert sorted(m["To"] for m in smtp.messages) == sorted([admin.email, klass.teacher.email])
    subject = f"{klass.students[0].full_name} is at high risk in {klass.name}"
    assert {m["Subject"] for m in smtp.messages} == {subject}
    body = smtp.messages[0].get_payload(decode=True).decode()
    assert "3 absences in a row" in body
    history = f"https://attendance.school.test/students/{klass.students[0].profile_id}/history"
    assert f"Open it in Attendance: {history}" in body
    assert all(r.sent_at is not None for r in outbox_rows(app))


def test_the_outbox_survives_a_mail_server_that_is_down(app, smtp, monkeypatch):
    _klass, _admin = cross_the_line(app)
    working_port = app.config["MAIL_PORT"]
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nobody listens there
    first_try = utcnow() + LATER

    report = send(app, first_try)

    assert (report.sent, report.failed, report.waiting) == (0, 2, 2)
    assert "Could not reach the mail server" in report.error
    rows = outbox_rows(app)
    assert all(r.sent_at is None and r.attempts == 1 for r in rows)
    assert all(r.next_attempt_at > first_try for r in rows)  # backing off
    assert send(app, first_try + timedelta(seconds=10)).sent == 0  # not yet due again

    monkeypatch.setitem(app.config, "MAIL_PORT", working_port)
    report = send(app, first_try + timedelta(minutes=2))

    assert (report.sent, report.failed, report.waiting) == (2, 0, 0)
    assert len(smtp.messages) == 2


def test_a_withdrawn_alert_is_never_emailed(app, smtp):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)
    ana = klass.students[0]
    plan = [{ana: s} for s in ["PRESENT"] * 7 + ["ABSENT"] * 2]
    run_sessions(app, klass, plan, first_start=START)
    session_id = make_session(app, klass, start_at=START + timedelta(days=20))
    record_id = mark(app, klass, session_id, ana, "ABSENT")
    assert len(outbox_rows(app)) == 2

    with app.app_context():
        attendance.update_attendance(
            actor=actor(klass.teacher.user_id),
            attendance_id=record_id,
            status="PRESENT",
            channel=Channel.API,
        )
        db.session.remove()

    assert outbox_rows(app) == []
    assert send(app, utcnow() + LATER).sent == 0
    assert smtp.messages == []


def test_a_students_end_of_session_notice_is_emailed_at_once(app, smtp):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=1)
    session_id = make_session(app, klass, start_at=START)
    mark(app, klass, session_id, klass.students[0], "ABSENT")
    end_session(app, klass, session_id)

    assert send(app).sent == 1
    [message] = smtp.messages
    assert message["To"] == klass.students[0].email
    assert message["Subject"] == f"You were marked absent in {klass.name}"


def test_without_a_mail_server_nothing_is_queued_but_the_bell_still_rings(app):
    _klass, admin = cross_the_line(app)

    assert outbox_rows(app) == []
    with app.app_context():
        from attendance_app.services.notifying.notifications import unread_count

        assert unread_count(admin.user_id) == 1
        db.session.remove()


def test_two_senders_never_claim_the_same_email(app, smtp):
    cross_the_line(app)
    now = utcnow() + LATER

    with app.app_context():
        first = outbox._claim(now, 100)
        second = outbox._claim(now, 100)
        db.session.remove()

    assert len(first) == 2
    assert second == []


@pytest.mark.parametrize(
    ("attempts", "minutes"), [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (30, 60)]
)
def test_retries_back_off_doubling_up_to_an_hour(attempts, minutes):
    assert outbox.backoff(attempts) == timedelta(minutes=minutes)
