"""Guardians: the admin's rules, and the daily absence email through the outbox, received by a
real SMTP server (aiosmtpd): one per student per day, naming the lessons missed and the
school's contact, none for an excused absence, with an unsubscribe link that works."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select, text

from attendance_app.extensions import db
from attendance_app.models import AbsenceReason, AttendanceStatus, Channel, Guardian, OutboxEmail
from attendance_app.services import events
from attendance_app.services.errors import Forbidden, Invalid, NotFound
from attendance_app.services.marking import attendance, bulk, deletion, excuses
from attendance_app.services.notifying import guardian_digest, outbox
from attendance_app.services.school import guardians
from attendance_app.services.transaction import unit_of_work
from tests.factories import (
    actor,
    add_guardian,
    end_session,
    make_admin,
    make_class,
    make_session,
    make_superuser,
    make_teacher,
    mark,
)
from tests.mail import smtp_server

DAY = date(2026, 9, 7)
MORNING = datetime(2026, 9, 7, 9, 0, tzinfo=UTC)
CONTACT = "office@school.test"


@pytest.fixture
def smtp(app, monkeypatch):
    with smtp_server() as (received, port):
        monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
        monkeypatch.setitem(app.config, "MAIL_PORT", port)
        monkeypatch.setitem(app.config, "MAIL_FROM", "attendance@school.test")
        monkeypatch.setitem(app.config, "SCHOOL_CONTACT_EMAIL", CONTACT)
        monkeypatch.setitem(app.config, "PUBLIC_URL", "https://attendance.school.test")
        yield received


def digest(app, day: date = DAY) -> int:
    with app.app_context():
        queued = guardian_digest.send_guardian_digests(day=day)
        db.session.remove()
    return queued


def send(app) -> outbox.SendReport:
    with app.app_context():
        report = outbox.send_due()
        db.session.remove()
    return report


def at_home(smtp) -> list:
    """What the guardians received (students' own end-of-session notices left out)."""
    return [m for m in smtp.messages if m["To"].endswith("@home.test")]


def guardian_rows(app) -> list[OutboxEmail]:
    with app.app_context():
        rows = db.session.scalars(
            select(OutboxEmail)
            .where(OutboxEmail.dedupe_key.like("guardian:%"))
            .order_by(OutboxEmail.to_address)
        ).all()
        db.session.remove()
    return list(rows)


@pytest.fixture
def john_and_his_mother(app):
    """Two classes of one student, John; his mother is listed to be told."""
    admin = make_admin(app)
    maths = make_class(app, admin=admin, students=1, name="Maths 7A")
    john = maths.students[0]
    history = make_class(app, admin=admin, students=[john], name="History 7A")
    mother = add_guardian(app, john, admin=admin, name="Mary Doe", email="mary@home.test")
    return admin, maths, history, john, mother


def excuse(app, by, record, reason: AbsenceReason = AbsenceReason.ILLNESS) -> None:
    """Excuse ``record`` through the service, as the person ``by``."""
    with app.app_context():
        excuses.excuse_absence(
            actor=actor(by.user_id), attendance_id=record, reason=reason, channel=Channel.API
        )
        db.session.remove()


def absent_in(app, klass, student, start: datetime) -> object:
    session_id = make_session(app, klass, start_at=start)
    record = mark(app, klass, session_id, student, "ABSENT")
    end_session(app, klass, session_id, at=start + timedelta(hours=1))
    return record


# --- managing guardians --------------------------------------------------------------------


def test_an_admin_adds_lists_and_removes_a_students_guardians(app, ctx):
    admin = make_admin(app)
    john = make_class(app, admin=admin, students=1).students[0]
    me = actor(admin.user_id)

    added = guardians.add_guardian(
        actor=me,
        student_id=john.profile_id,
        name="  Mary Doe ",
        email=" Mary@Home.TEST ",
        relationship="Mother",
    )

    assert (added.name, added.email, added.relationship, added.notify) == (
        "Mary Doe",
        "mary@home.test",
        "Mother",
        True,
    )
    assert [g.id for g in guardians.list_guardians(actor=me, student_id=john.profile_id)] == [
        added.id
    ]
    guardians.remove_guardian(actor=me, student_id=john.profile_id, guardian_id=added.id)
    assert guardians.list_guardians(actor=me, student_id=john.profile_id) == []


def test_only_admins_manage_guardians_before_anything_is_looked_up(app, ctx):
    admin = make_admin(app)
    teacher = make_teacher(app)
    john = make_class(app, admin=admin, teacher=teacher, students=1).students[0]

    for who in (teacher, john):
        with pytest.raises(Forbidden):
            guardians.list_guardians(actor=actor(who.user_id), student_id=john.profile_id)
        with pytest.raises(Forbidden):
            guardians.add_guardian(
                actor=actor(who.user_id),
                student_id=john.profile_id,
                name="X",
                email="x@home.test",
                relationship="Father",
            )


def test_an_unknown_student_or_guardian_is_not_found(app, ctx):
    import uuid

    admin = make_admin(app)
    john = make_class(app, admin=admin, students=1).students[0]
    me = actor(admin.user_id)

    with pytest.raises(NotFound, match=r"Student not found."):
        guardians.list_guardians(actor=me, student_id=uuid.uuid4())
    with pytest.raises(NotFound, match=r"Guardian not found."):
        guardians.remove_guardian(actor=me, student_id=john.profile_id, guardian_id=uuid.uuid4())


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"name": " "}, "name", "This field is required."),
        ({"relationship": ""}, "relationship", "This field is required."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"name": "A" * 151}, "name", "Ensure this field has no more than 150 characters."),
        ({"relationship": "R" * 51}, "relationship", "no more than 50 characters."),
        ({"name": "Mary\r\nBcc: x@evil.test"}, "name", "control characters are not allowed"),
        ({"email": "a@b.test\nBcc: x@evil.test"}, "email", "control characters"),
    ],
)
def test_a_bad_field_is_refused_on_that_field(app, ctx, values, field, message):
    admin = make_admin(app)
    john = make_class(app, admin=admin, students=1).students[0]
    fields = {"name": "Mary Doe", "email": "mary@home.test", "relationship": "Mother", **values}

    with pytest.raises(Invalid) as err:
        guardians.add_guardian(actor=actor(admin.user_id), student_id=john.profile_id, **fields)

    assert err.value.field == field
    assert message in err.value.message


def test_the_same_email_twice_for_one_student_is_refused(app, ctx):
    admin = make_admin(app)
    john = make_class(app, admin=admin, students=1).students[0]
    me = actor(admin.user_id)
    fields = {"name": "Mary", "email": "mary@home.test", "relationship": "Mother"}
    guardians.add_guardian(actor=me, student_id=john.profile_id, **fields)

    with pytest.raises(Invalid, match=guardians.ALREADY_LISTED):
        guardians.add_guardian(
            actor=me, student_id=john.profile_id, **{**fields, "email": "MARY@home.test"}
        )


def test_a_student_has_at_most_ten_guardians(app, ctx):
    admin = make_admin(app)
    john = make_class(app, admin=admin, students=1).students[0]
    me = actor(admin.user_id)
    for n in range(guardians.MAX_PER_STUDENT):
        guardians.add_guardian(
            actor=me, student_id=john.profile_id, name=f"G{n}", email=f"g{n}@h.test",
            relationship="Carer",
        )  # fmt: skip

    with pytest.raises(Invalid, match=guardians.TOO_MANY):
        guardians.add_guardian(
            actor=me, student_id=john.profile_id, name="One more", email="more@h.test",
            relationship="Carer",
        )  # fmt: skip


def test_managing_guardians_is_on_the_security_log(app, ctx, caplog):
    admin = make_admin(app)
    john = make_class(app, admin=admin, students=1).students[0]
    caplog.set_level("INFO", logger="attendance.security")

    added = guardians.add_guardian(
        actor=actor(admin.user_id), student_id=john.profile_id, name="Mary",
        email="mary@home.test", relationship="Mother",
    )  # fmt: skip
    guardians.remove_guardian(
        actor=actor(admin.user_id), student_id=john.profile_id, guardian_id=added.id
    )

    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("event=guardian_added") and str(added.id) in line for line in lines)
    assert any(line.startswith("event=guardian_removed") for line in lines)


# --- the unsubscribe token -----------------------------------------------------------------


def test_an_unsubscribe_token_turns_that_guardians_emails_off_and_again_is_harmless(
    app, ctx, john_and_his_mother
):
    _, _, _, _, mother = john_and_his_mother
    token = guardians.unsubscribe_token(mother)

    assert guardians.unsubscribe(token=token).notify is False
    assert guardians.unsubscribe(token=token).notify is False
    assert db.session.get(Guardian, mother).notify is False


@pytest.mark.parametrize("token", ["", "garbage", "InZvbyI.xyz"])
def test_a_forged_or_damaged_token_is_not_found(app, ctx, token):
    with pytest.raises(NotFound, match="This link is not valid"):
        guardians.unsubscribe(token=token)


def test_a_token_signed_with_another_key_is_not_accepted(
    app, ctx, john_and_his_mother, monkeypatch
):
    _, _, _, _, mother = john_and_his_mother
    monkeypatch.setitem(app.config, "SECRET_KEY", "another-key")
    token = guardians.unsubscribe_token(mother)
    monkeypatch.setitem(app.config, "SECRET_KEY", "test-secret")

    with pytest.raises(NotFound):
        guardians.unsubscribe(token=token)


# --- the daily email -----------------------------------------------------------------------


def test_one_email_per_student_per_day_names_every_lesson_missed_and_the_contact(
    app, smtp, john_and_his_mother
):
    _admin, maths, history, john, _mother = john_and_his_mother
    absent_in(app, maths, john, MORNING)
    absent_in(app, history, john, MORNING + timedelta(hours=2))

    assert digest(app) == 1
    assert digest(app) == 0  # a rerun (or another process) sends nothing twice
    report = send(app)

    assert report.failed == 0
    [message] = at_home(smtp)
    assert message["To"] == "mary@home.test"
    assert message["Subject"] == f"{john.full_name} was absent on Monday 07 September 2026"
    body = message.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert f"Dear Mary Doe,\n\n{john.full_name} was marked absent from 2 lessons" in body
    assert "- 09:00 Maths 7A (" in body
    assert "- 11:00 History 7A (" in body
    assert f"please contact the school at {CONTACT}." in body
    assert "https://attendance.school.test/guardians/unsubscribe/" in body


def test_the_email_link_unsubscribes_without_a_login(app, smtp, john_and_his_mother, client):
    _admin, maths, _, john, mother = john_and_his_mother
    absent_in(app, maths, john, MORNING)
    digest(app)
    send(app)
    body = at_home(smtp)[0].get_payload(decode=True).decode().replace("\r\n", "\n")
    path = re.search(r"https://attendance\.school\.test(/guardians/unsubscribe/\S+)", body)[1]

    page = client.get(path)
    assert page.status_code == 200
    assert b"Stop these emails" in page.data
    csrf = re.search(rb'name="csrf_token" value="([^"]+)"', page.data)[1].decode()
    done = client.post(path, data={"csrf_token": csrf})

    assert done.status_code == 200
    assert b"You will not receive these emails any more" in done.data
    with app.app_context():
        assert db.session.get(Guardian, mother).notify is False
        db.session.remove()
    absent_in(app, maths, john, MORNING + timedelta(days=1))
    assert digest(app, DAY + timedelta(days=1)) == 0


def test_guardians_with_notify_off_and_other_students_guardians_get_nothing(
    app, smtp, john_and_his_mother
):
    admin, maths, _, john, _ = john_and_his_mother
    add_guardian(app, john, admin=admin, email="dad@home.test", notify=False)
    other = maths  # a classmate who was present has a guardian too
    from tests.factories import enroll, make_student

    jane = make_student(app)
    enroll(app, other, [jane], admin=admin)
    add_guardian(app, jane, admin=admin, email="jane.mum@home.test")
    session_id = make_session(app, maths, start_at=MORNING)
    mark(app, maths, session_id, john, "ABSENT")
    mark(app, maths, session_id, jane, "PRESENT")
    end_session(app, maths, session_id)

    digest(app)
    send(app)

    assert [m["To"] for m in at_home(smtp)] == ["mary@home.test"]


def test_an_absence_excused_before_the_digest_is_not_emailed(app, smtp, john_and_his_mother):
    _, maths, _, john, _ = john_and_his_mother
    record = absent_in(app, maths, john, MORNING)
    excuse(app, maths.teacher, record)

    assert digest(app) == 0
    send(app)
    assert at_home(smtp) == []


def test_an_excuse_after_the_digest_but_before_sending_withdraws_or_rewrites_the_email(
    app, smtp, john_and_his_mother
):
    admin, maths, history, john, _ = john_and_his_mother
    first = absent_in(app, maths, john, MORNING)
    second = absent_in(app, history, john, MORNING + timedelta(hours=2))
    digest(app)

    excuse(app, admin, first, AbsenceReason.MEDICAL)
    [row] = guardian_rows(app)
    assert "Maths 7A" not in row.body and "History 7A" in row.body
    assert "absent from a lesson" in row.body

    excuse(app, admin, second, AbsenceReason.MEDICAL)
    assert guardian_rows(app) == []
    send(app)
    assert at_home(smtp) == []


def test_a_record_deleted_after_the_digest_but_before_sending_rewrites_or_withdraws_the_email(
    app, smtp, john_and_his_mother
):
    _, maths, history, john, _ = john_and_his_mother
    first = absent_in(app, maths, john, MORNING)
    second = absent_in(app, history, john, MORNING + timedelta(hours=2))
    digest(app)
    superuser = make_superuser(app)

    def delete(record):
        with app.app_context():
            deletion.delete_record(
                actor=actor(superuser.user_id), record_id=record, channel=Channel.WEB
            )
            db.session.remove()

    delete(first)
    [row] = guardian_rows(app)
    assert "Maths 7A" not in row.body and "History 7A" in row.body
    assert "absent from a lesson" in row.body

    delete(second)
    assert guardian_rows(app) == []
    send(app)
    assert at_home(smtp) == []


def test_an_excuse_withdrawn_before_sending_puts_the_lesson_back_in_the_email(
    app, smtp, john_and_his_mother
):
    admin, maths, history, john, _ = john_and_his_mother
    absent_in(app, maths, john, MORNING)
    excused = absent_in(app, history, john, MORNING + timedelta(hours=2))
    excuse(app, admin, excused, AbsenceReason.FAMILY)
    digest(app)
    [row] = guardian_rows(app)
    assert "History 7A" not in row.body

    with app.app_context():
        excuses.withdraw_excuse(
            actor=actor(admin.user_id), attendance_id=excused, channel=Channel.API
        )
        db.session.remove()

    [row] = guardian_rows(app)
    assert "Maths 7A" in row.body and "History 7A" in row.body
    assert "absent from 2 lessons" in row.body
    send(app)
    [message] = at_home(smtp)
    assert "History 7A" in message.get_payload(decode=True).decode()


def test_only_changes_in_ended_sessions_reach_the_waiting_emails(app, john_and_his_mother):
    """What each change tells the digest: the students whose record changed in an ENDED
    session; a change in an ACTIVE session (a tap, an excuse) tells it nothing."""
    admin, maths, history, john, _ = john_and_his_mother
    ended = absent_in(app, maths, john, MORNING)
    active = make_session(app, history, start_at=MORNING + timedelta(hours=2))
    still_on = mark(app, history, active, john, "ABSENT")
    seen: list[events.AttendanceChanged] = []

    def listen(batch):
        seen.extend(e for e in batch if isinstance(e, events.AttendanceChanged))

    events.subscribe(listen)
    try:
        with app.app_context():
            me = actor(admin.user_id)
            for record in (ended, still_on):
                excuses.excuse_absence(
                    actor=me,
                    attendance_id=record,
                    reason=AbsenceReason.ILLNESS,
                    channel=Channel.API,
                )
            attendance.update_attendance(
                actor=me,
                attendance_id=still_on,
                status=AttendanceStatus.PRESENT,
                channel=Channel.API,
            )
            db.session.remove()
    finally:
        events.unsubscribe(listen)

    assert [e.ended_session_student_ids for e in seen] == [(john.profile_id,), (), ()]


@pytest.mark.parametrize("how", ["removed", "turned off", "unsubscribed"])
def test_a_guardian_removed_or_turned_off_before_sending_gets_nothing(
    app, smtp, john_and_his_mother, how
):
    admin, maths, _, john, mother = john_and_his_mother
    absent_in(app, maths, john, MORNING)
    digest(app)
    assert len(guardian_rows(app)) == 1

    with app.app_context():
        me = actor(admin.user_id)
        if how == "removed":
            guardians.remove_guardian(actor=me, student_id=john.profile_id, guardian_id=mother)
        elif how == "turned off":
            guardians.set_notify(
                actor=me, student_id=john.profile_id, guardian_id=mother, notify=False
            )
        else:
            guardians.unsubscribe(token=guardians.unsubscribe_token(mother))
        db.session.remove()

    assert guardian_rows(app) == []
    send(app)
    assert at_home(smtp) == []


def test_only_ended_sessions_of_that_school_day_count(app, smtp, john_and_his_mother, monkeypatch):
    _, maths, history, john, _ = john_and_his_mother
    monkeypatch.setitem(app.config, "SCHOOL_TIMEZONE", "Europe/London")
    # 23:30 UTC on the 6th is 00:30 on the 7th in London (BST).
    absent_in(app, maths, john, datetime(2026, 9, 6, 23, 30, tzinfo=UTC))
    still_on = make_session(app, history, start_at=MORNING)
    mark(app, history, still_on, john, "ABSENT")  # ACTIVE: not told yet

    with app.app_context():
        missed = guardian_digest.missed_lessons(DAY)
        db.session.remove()

    [lesson] = missed[john.profile_id]
    assert (lesson.class_name, lesson.start.hour, lesson.start.minute) == ("Maths 7A", 0, 30)


def test_without_mail_nothing_is_queued(app, john_and_his_mother):
    _, maths, _, john, _ = john_and_his_mother
    absent_in(app, maths, john, MORNING)

    assert digest(app) == 0
    assert guardian_rows(app) == []


def test_the_digest_is_due_once_its_school_time_has_passed(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "SCHOOL_TIMEZONE", "Europe/London")
    at = guardian_digest.parse_digest_time("16:00")

    assert guardian_digest.last_due_day(datetime(2026, 9, 7, 14, 59, tzinfo=UTC), at) == date(
        2026, 9, 6
    )
    assert guardian_digest.last_due_day(datetime(2026, 9, 7, 15, 0, tzinfo=UTC), at) == DAY
    assert guardian_digest.parse_digest_time("off") is None
    with pytest.raises(ValueError, match="GUARDIAN_DIGEST_TIME must be"):
        guardian_digest.parse_digest_time("teatime")
    assert at == time(16, 0)


# --- a session that ends after the digest --------------------------------------------------


def test_a_session_ending_after_the_digest_adds_its_lesson_to_the_waiting_email_once(
    app, smtp, john_and_his_mother
):
    _, maths, history, john, _ = john_and_his_mother
    absent_in(app, maths, john, MORNING)
    assert digest(app) == 1

    absent_in(app, history, john, MORNING + timedelta(hours=2))

    [row] = guardian_rows(app)
    assert "- 09:00 Maths 7A (" in row.body and "- 11:00 History 7A (" in row.body
    assert "absent from 2 lessons" in row.body
    assert row.body.count("History 7A") == 1
    assert digest(app) == 0  # the next round adds no second email
    send(app)
    [message] = at_home(smtp)
    assert "History 7A" in message.get_payload(decode=True).decode()


def test_a_session_ended_with_the_unmarked_absent_after_the_digest_reaches_the_waiting_email(
    app, smtp, john_and_his_mother
):
    _, maths, history, john, _ = john_and_his_mother
    absent_in(app, maths, john, MORNING)
    digest(app)
    session_id = make_session(app, history, start_at=MORNING + timedelta(hours=2))
    with app.app_context():
        bulk.end_session_marking_unmarked(
            actor=actor(history.teacher.user_id), session_id=session_id, channel=Channel.API
        )
        db.session.remove()

    [row] = guardian_rows(app)
    assert "Maths 7A" in row.body and "History 7A" in row.body


def test_a_session_ending_after_the_digest_leaves_present_and_excused_students_out(
    app, smtp, john_and_his_mother
):
    admin, maths, history, john, _ = john_and_his_mother
    absent_in(app, maths, john, MORNING)
    digest(app)
    [before] = guardian_rows(app)

    present = make_session(app, history, start_at=MORNING + timedelta(hours=2))
    mark(app, history, present, john, "PRESENT")
    end_session(app, history, present)
    excused = make_session(app, history, start_at=MORNING + timedelta(hours=4))
    record = mark(app, history, excused, john, "ABSENT")
    excuse(app, admin, record)
    end_session(app, history, excused)

    [row] = guardian_rows(app)
    assert row.body == before.body


def test_a_session_ending_after_the_email_was_sent_sends_nothing_more_that_day(
    app, smtp, john_and_his_mother
):
    _, maths, history, john, _ = john_and_his_mother
    absent_in(app, maths, john, MORNING)
    digest(app)
    send(app)
    [sent] = guardian_rows(app)

    absent_in(app, history, john, MORNING + timedelta(hours=2))

    [row] = guardian_rows(app)
    assert row.body == sent.body and "History 7A" not in row.body
    assert digest(app) == 0
    send(app)
    assert len(at_home(smtp)) == 1


@pytest.fixture
def postgres_only(database_url: str) -> str:
    """The test's PostgreSQL database (the fixture also marks the test PostgreSQL-only)."""
    assert database_url.startswith("postgresql"), "deselected outside the PostgreSQL pass"
    return database_url


def test_a_session_ending_during_a_digest_round_still_reaches_its_email(
    app, smtp, john_and_his_mother, postgres_only
):
    """READ COMMITTED: the round (still open) cannot see the session end, nor the end the
    round's email; the end waits for the round's lock, then sees the email and rewrites it."""
    _, maths, history, john, _ = john_and_his_mother
    absent_in(app, maths, john, MORNING)
    history_session = make_session(app, history, start_at=MORNING + timedelta(hours=2))
    mark(app, history, history_session, john, "ABSENT")
    queued, release = threading.Event(), threading.Event()

    @unit_of_work
    def digest_round_held_open() -> None:
        guardian_digest.send_guardian_digests(day=DAY)
        queued.set()
        assert release.wait(30)

    def in_context(fn) -> None:
        with app.app_context():
            fn()
            db.session.remove()

    with ThreadPoolExecutor(2) as pool:
        round_done = pool.submit(in_context, digest_round_held_open)
        assert queued.wait(30)
        ended = pool.submit(end_session, app, history, history_session)
        wait_for_a_backend_waiting_on_the_digest_lock(app)
        release.set()
        round_done.result(30)
        ended.result(30)

    [row] = guardian_rows(app)
    assert "Maths 7A" in row.body and "History 7A" in row.body


def wait_for_a_backend_waiting_on_the_digest_lock(app) -> None:
    with app.app_context():
        for _ in range(300):
            waiting = db.session.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND objid = :key"
                ),
                {"key": guardian_digest.DIGEST_LOCK},
            )
            db.session.rollback()
            if waiting:
                break
            threading.Event().wait(0.1)
        db.session.remove()
    assert waiting, "the session end did not wait for the digest round"
