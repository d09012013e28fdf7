"""A record whose session has no start time (the column is nullable; the services never
leave one so, but the schema allows it): every history reader — the API body, its paging,
the history page and its chart, the CSV export — shows it without a date instead of failing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from attendance_app.extensions import db
from attendance_app.models import ClassSession
from attendance_app.services.reporting import records
from tests.factories import actor, make_session, mark

START = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def anns_records(app, two_teacher_school):
    """Ann's three records in MATH101: Jan 10 PRESENT, Jan 11 LATE, and an ABSENT one whose
    session's start time was cleared. Returns the record ids, that one last."""
    math, ann = two_teacher_school.math, two_teacher_school.ann
    ids = []
    for day, status in enumerate(["PRESENT", "LATE", "ABSENT"]):
        start = START + timedelta(days=day)
        session_id = make_session(app, math, start_at=start)
        ids.append(mark(app, math, session_id, ann, status, at=start + timedelta(minutes=4)))
    with app.app_context():
        db.session.execute(
            update(ClassSession).where(ClassSession.id == session_id).values(start_time=None)
        )
        db.session.commit()
        db.session.remove()
    return [str(i) for i in ids]


def history_url(school) -> str:
    return f"/api/attendance/student/{school.ann.profile_id}/"


def test_the_api_lists_it_last_without_a_date(api_as, two_teacher_school, anns_records):
    resp = api_as(two_teacher_school.admin).get(history_url(two_teacher_school))

    assert resp.status_code == 200, resp.json
    assert [r["id"] for r in resp.json["records"]] == [
        anns_records[1],
        anns_records[0],
        anns_records[2],
    ]
    undated = resp.json["records"][-1]
    assert (undated["session"]["date"], undated["session"]["start_time"]) == (None, None)
    assert resp.json["statistics"]["total_sessions"] == 3


def test_paging_walks_past_it_once(api_as, two_teacher_school, anns_records):
    client, seen, cursor = api_as(two_teacher_school.admin), [], None
    for _ in range(5):
        query = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        resp = client.get(history_url(two_teacher_school), query_string=query)
        assert resp.status_code == 200, resp.json
        seen += [r["id"] for r in resp.json["records"]]
        cursor = resp.json["next_cursor"]
        if cursor is None:
            break

    assert seen == [anns_records[1], anns_records[0], anns_records[2]]


def test_the_history_page_and_its_chart_show_it_without_a_date(
    browser_as, two_teacher_school, anns_records
):
    page = browser_as(two_teacher_school.admin).get(
        f"/students/{two_teacher_school.ann.profile_id}/history"
    )

    assert page.status_code == 200
    assert f'data-record-id="{anns_records[2]}"' in page.text
    row = page.text.split(f'data-record-id="{anns_records[2]}"')[1].split("</tr>")[0]
    assert '<td data-label="Date">—</td>' in row


def test_the_csv_export_leaves_its_date_and_start_empty(api_as, two_teacher_school, anns_records):
    resp = api_as(two_teacher_school.admin).get(
        "/api/attendance/export.csv",
        query_string={"student_id": str(two_teacher_school.ann.profile_id)},
    )

    assert resp.status_code == 200
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    undated = [r for r in rows if r["status"] == "ABSENT"]
    assert [(r["date"], r["start_time"]) for r in undated] == [("", "")]
    assert len(rows) == 3


def test_the_admin_record_list_puts_it_last_on_both_databases(
    app, two_teacher_school, anns_records
):
    with app.app_context():
        admin = actor(two_teacher_school.admin.user_id)
        listed = [str(r.id) for r in records.list_records(actor=admin).items]

    assert listed.index(anns_records[1]) < listed.index(anns_records[0])
    assert listed[-1] == anns_records[2]
