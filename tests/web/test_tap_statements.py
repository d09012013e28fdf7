"""Query budget of a roster tap: the htmx POST a teacher's tile makes runs a fixed, small number
of SQL statements (the login cookie's user, the tap's own reads and writes, the alert check,
and the cell it answers with), whether it creates the student's record or changes it."""

from __future__ import annotations

import pytest

from attendance_app.extensions import db
from tests.factories import make_session
from tests.web.conftest import htmx_headers

#: Without BEGINs (SQLite sends them as statements, PostgreSQL's driver does not). Were 13 and
#: 14: the view no longer loads the session before the tap, and the tap no longer loads the
#: session again for the mark or the update, nor the record again for the update. One fewer
#: on SQLite, where the tap reads the session and the record in one statement (PostgreSQL
#: locks the session first, then reads the record under the lock). Two fewer since the answer
#: reads the tile's line, the session's counts and the alert reason in one statement. On
#: PostgreSQL a tap that creates the record writes it and its audit row in one statement. One
#: fewer since the tap's read is its session's ``live_seq`` bump (``taps._BUMPING_READ``).
#: One fewer since the tile's line reads the student's mini-history too (``roster.tile``).
#: On PostgreSQL a tap that changes the record writes it and its audit row in one statement.
BUDGETS = {
    "postgresql": {"creates": 7, "changes": 6},
    "sqlite": {"creates": 7, "changes": 6},
}


@pytest.mark.parametrize("kind", ["creates", "changes"])
def test_a_roster_tap_runs_a_fixed_small_number_of_statements(
    app, classroom, browser_as, count_queries, kind
):
    session_id = make_session(app, classroom.klass)
    client = browser_as(classroom.teacher)
    page = client.get(f"/sessions/{session_id}")
    headers = htmx_headers(page.text)
    student = classroom.klass.students[0]
    path = f"/sessions/{session_id}/students/{student.profile_id}/status"
    if kind == "changes":
        assert client.post(path, data={"status": "PRESENT"}, headers=headers).status_code == 200

    with count_queries() as counter:
        response = client.post(path, data={"status": "ABSENT"}, headers=headers)

    assert response.status_code == 200
    assert 'data-status="ABSENT"' in response.text
    statements = [s for s in counter.statements if not s.startswith("BEGIN")]
    with app.app_context():
        budget = BUDGETS[db.engine.dialect.name][kind]
    assert len(statements) == budget, "\n---\n".join(s[:200] for s in statements)
