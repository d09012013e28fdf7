"""People read times in the school's zone (SCHOOL_TIMEZONE); the API and CSV stay in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from attendance_app.config import load_config
from tests.factories import end_session, make_session, mark
from tests.web.conftest import parse

SUMMER = datetime(2026, 9, 7, 23, 30, tzinfo=UTC)  # 01:30 on the 8th in Paris (CEST)
WINTER = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Paris (CET)


@pytest.fixture
def paris(app, monkeypatch):
    monkeypatch.setitem(app.config, "SCHOOL_TIMEZONE", "Europe/Paris")


def test_pages_show_times_and_dates_in_the_schools_zone(app, classroom, browser_as, paris):
    student = classroom.klass.students[0]
    session_id = make_session(app, classroom.klass, start_at=SUMMER)
    mark(app, classroom.klass, session_id, student, "PRESENT", at=SUMMER)

    history = browser_as(student).get(f"/students/{student.profile_id}/history").text
    roster = browser_as(classroom.teacher).get(f"/sessions/{session_id}").text

    assert "2026-09-08" in [td.text for td in parse(history).find_all("td")]  # the local day
    assert "Tue 08 Sep 2026, 01:30 CEST" in roster
    assert 'datetime="2026-09-07T23:30:00+00:00"' in roster  # machines still read UTC


def test_a_students_notice_names_the_local_time(app, classroom, paris):
    from sqlalchemy import select

    from attendance_app.extensions import db
    from attendance_app.models import Notification

    student = classroom.klass.students[0]
    session_id = make_session(app, classroom.klass, start_at=WINTER)
    mark(app, classroom.klass, session_id, student, "ABSENT", at=WINTER)
    end_session(app, classroom.klass, session_id)

    with app.app_context():
        [notice] = db.session.scalars(
            select(Notification).where(Notification.recipient_id == student.user_id)
        ).all()
        db.session.remove()
    assert notice.body.startswith(
        f"{classroom.klass.name}, Mon 23 Nov 2026, 10:00 CET: marked absent"
    )


def test_the_api_stays_in_utc(app, classroom, api_as, paris):
    session_id = make_session(app, classroom.klass, start_at=WINTER)

    body = api_as(classroom.teacher).get(f"/api/attendance/session/{session_id}/").json

    assert body["session"]["start_time"] == "2026-11-23T09:00:00Z"


def test_an_unknown_zone_stops_the_app_with_a_plain_message(tmp_path):
    with pytest.raises(RuntimeError, match="SCHOOL_TIMEZONE must be an IANA time zone"):
        load_config(str(tmp_path), {"ENV_NAME": "test", "SCHOOL_TIMEZONE": "Mars/Olympus"})
