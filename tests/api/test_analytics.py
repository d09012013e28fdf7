"""GET /api/analytics/students/{id}/ and /api/analytics/classes/{id}/: every figure against the
contract's definitions, the risk and trend edges, who reads what, and constant query counts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from attendance_app.services.reporting import analytics, risk
from tests.factories import (
    actor,
    end_session,
    make_admin,
    make_class,
    make_session,
    make_student,
    make_students,
    make_teacher,
    mark,
    mark_many,
    run_sessions,
    unenroll,
)

STATUS = {"P": "PRESENT", "A": "ABSENT", "L": "LATE"}
FIGURE_KEYS = [
    "total_sessions",
    "present",
    "absent",
    "late",
    "excused",
    "attendance_rate",
    "late_rate",
    "consecutive_absences",
    "trend",
    "risk_level",
]
NO_FIGURES = {
    "total_sessions": 0,
    "present": 0,
    "absent": 0,
    "late": 0,
    "excused": 0,
    "attendance_rate": 0.0,
    "late_rate": 0.0,
    "consecutive_absences": 0,
    "trend": "stable",
    "risk_level": "low",
}


def student_url(student, **query) -> str:
    sid = getattr(student, "profile_id", student)
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/analytics/students/{sid}/" + (f"?{qs}" if qs else "")


def class_url(klass) -> str:
    return f"/api/analytics/classes/{getattr(klass, 'id', klass)}/"


def day(n: int, hour: int = 9) -> datetime:
    return datetime(2026, 1, 1, hour, tzinfo=UTC) + timedelta(days=n)


def record(app, klass, students_patterns: dict, *, first_start: datetime = day(0), end=False):
    """Sessions of ``klass``, one per letter, oldest first: ``{student: "PPAL"}`` marks each
    student with their letter of each session (`P`, `A`, `L`; `.` or a short pattern leaves
    them unmarked)."""
    length = max(len(p) for p in students_patterns.values())
    plan = [
        {
            student: STATUS[pattern[i]]
            for student, pattern in students_patterns.items()
            if i < len(pattern) and pattern[i] in STATUS
        }
        for i in range(length)
    ]
    return run_sessions(app, klass, plan, first_start=first_start, end=end)


def figures(body: dict) -> dict:
    return {k: body[k] for k in FIGURE_KEYS}


@pytest.fixture
def solo(app):
    """An admin and one class (its teacher, one student, Sam Solo)."""
    admin = make_admin(app)
    sam = make_student(app, first_name="Sam", last_name="Solo", number="S00001")
    klass = make_class(app, admin=admin, students=[sam], subject_code="SOLO101")
    return SimpleNamespace(admin=admin, klass=klass, student=sam)


@pytest.fixture
def figures_for(app, api_as, solo):
    """``figures_for("PPAL")``: Sam's figures (as the admin sees them) after that history."""

    def run(pattern: str) -> dict:
        if pattern:
            record(app, solo.klass, {solo.student: pattern})
        resp = api_as(solo.admin).get(student_url(solo.student))
        assert resp.status_code == 200, resp.json
        return figures(resp.json)

    return run


# --- the student body ------------------------------------------------------------------------


def test_student_analytics_has_the_contract_body_in_order(app, api_as, solo):
    record(app, solo.klass, {solo.student: "PLA"})

    resp = api_as(solo.admin).get(student_url(solo.student))

    assert resp.status_code == 200, resp.json
    assert list(resp.json) == ["student", *FIGURE_KEYS]
    assert resp.json == {
        "student": {
            "id": str(solo.student.profile_id),
            "student_id": "S00001",
            "first_name": "Sam",
            "last_name": "Solo",
        },
        "total_sessions": 3,
        "present": 1,
        "absent": 1,
        "late": 1,
        "excused": 0,
        "attendance_rate": 66.67,
        "late_rate": 33.33,
        "consecutive_absences": 1,
        "trend": "stable",
        "risk_level": "high",
    }


def test_a_student_without_records_has_zero_figures_and_low_risk(figures_for):
    assert figures_for("") == NO_FIGURES


@pytest.mark.parametrize(
    ("pattern", "attendance_rate", "late_rate"),
    [
        ("PPP", 100.0, 0.0),
        ("AAA", 0.0, 0.0),
        ("LLL", 100.0, 100.0),
        ("PLA", 66.67, 33.33),  # 2/3 rounds up, 1/3 down
        ("PPPPPL", 100.0, 16.67),
        ("APPPPPPLPPPPPPPPPP", 94.44, 5.56),  # 17/18, 1/18
    ],
)
def test_rates_are_percentages_of_the_records_rounded_to_two_decimals(
    figures_for, pattern, attendance_rate, late_rate
):
    result = figures_for(pattern)

    assert result["total_sessions"] == len(pattern)
    assert (result["present"], result["absent"], result["late"]) == tuple(
        pattern.count(c) for c in "PAL"
    )
    assert result["attendance_rate"] == attendance_rate
    assert result["late_rate"] == late_rate


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("PPP", 0),
        ("PPA", 1),
        ("PAAA", 3),
        ("AAA", 3),  # every record absent
        ("AAAL", 0),  # the latest is LATE: the run is broken
        ("AAALA", 1),  # a LATE breaks the run like a PRESENT
        ("APAPAA", 2),
    ],
)
def test_consecutive_absences_count_the_latest_absent_records_in_a_row(
    figures_for, pattern, expected
):
    assert figures_for(pattern)["consecutive_absences"] == expected


def test_records_are_ordered_by_the_sessions_start_time_not_by_when_they_were_made(
    app, api_as, solo
):
    # The latest session is made (and marked) first; its record is still the most recent.
    latest = make_session(app, solo.klass, start_at=day(10))
    mark(app, solo.klass, latest, solo.student, "ABSENT", at=day(10, 10))
    for n, status in [(3, "ABSENT"), (1, "PRESENT"), (2, "ABSENT")]:
        session_id = make_session(app, solo.klass, start_at=day(n))
        # Marked after the latest session, so marked_at order differs from start order.
        mark(app, solo.klass, session_id, solo.student, status, at=day(11 + n))

    result = figures(api_as(solo.admin).get(student_url(solo.student)).json)

    # Start order: PRESENT (1), ABSENT (2), ABSENT (3), ABSENT (10) → three in a row.
    assert result["consecutive_absences"] == 3
    assert result["risk_level"] == "high"


def test_records_of_active_and_ended_sessions_both_count(app, api_as, solo):
    record(app, solo.klass, {solo.student: "PA"}, end=True)
    record(app, solo.klass, {solo.student: "L"}, first_start=day(5))
    make_session(app, solo.klass, start=False)  # SCHEDULED: nothing to count

    result = figures(api_as(solo.admin).get(student_url(solo.student)).json)

    assert (result["total_sessions"], result["present"], result["absent"], result["late"]) == (
        3,
        1,
        1,
        1,
    )
    assert result["consecutive_absences"] == 0


# --- trend -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("AAAAPPPPP", "stable"),  # 9 records: fewer than 2 × 5
        ("AAAAAPPPPP", "improving"),  # 0% → 100%
        ("PPPPPAAAAA", "declining"),  # 100% → 0%
        ("PPPPAPPPPA", "stable"),  # 80% → 80%
        ("LLLLLPPPPP", "stable"),  # LATE counts as attended
        ("PAAAAPPPPP", "improving"),  # 20% → 100%
        ("AAAAAAAAAAPPPPAPPPPA", "stable"),  # only the last 10 records count: 80% → 80%
        ("PPPPPPPPPPPPPPPAAAAP", "declining"),  # 100% → 20%
    ],
)
def test_trend_compares_the_last_five_records_with_the_five_before(figures_for, pattern, expected):
    assert figures_for(pattern)["trend"] == expected


@pytest.mark.parametrize(
    ("window", "pattern", "expected"),
    [
        # W = 10: one record is exactly 10 points.
        (10, "AAAAPPPPPP" + "AAAPPPPPPP", "improving"),  # 60% → 70%: +10 exactly
        (10, "AAAPPPPPPP" + "AAAAPPPPPP", "declining"),  # 70% → 60%: -10 exactly
        (10, "AAAAPPPPPP" + "AAAAPPPPPP", "stable"),
        # W = 11: one record is 9.09 points, under the edge; two are 18.18.
        (11, "AAAAPPPPPPP" + "AAAPPPPPPPP", "stable"),
        (11, "AAAPPPPPPPP" + "AAAAPPPPPPP", "stable"),
        (11, "AAAAAPPPPPP" + "AAAPPPPPPPP", "improving"),
        # W = 2: four records are enough.
        (2, "AAPP", "improving"),
        (2, "AAP", "stable"),
        (2, "PPLA", "declining"),
    ],
)
def test_trend_respects_the_window_setting_and_the_ten_point_edges(
    app, monkeypatch, figures_for, window, pattern, expected
):
    monkeypatch.setitem(app.config, "ANALYTICS_TREND_WINDOW", window)

    assert figures_for(pattern)["trend"] == expected


# --- risk level ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "rate", "consecutive", "late_rate", "level"),
    [
        ("A" * 6 + "P" * 14, 70.0, 0, 0.0, "medium"),  # exactly 70: not high
        ("A" * 7 + "P" * 13, 65.0, 0, 0.0, "high"),
        ("APP", 66.67, 0, 0.0, "high"),
        ("A" * 3 + "P" * 17, 85.0, 0, 0.0, "low"),  # exactly 85: not medium
        ("A" * 4 + "P" * 16, 80.0, 0, 0.0, "medium"),
        ("P" * 17 + "AAA", 85.0, 3, 0.0, "high"),  # 3 in a row: high whatever the rate
        ("P" * 18 + "AA", 90.0, 2, 0.0, "medium"),  # 2 in a row: medium
        ("P" * 18 + "AP", 95.0, 0, 0.0, "low"),
        ("L" * 4 + "P" * 16, 100.0, 0, 20.0, "low"),  # late rate exactly 20: not medium
        ("L" * 5 + "P" * 15, 100.0, 0, 25.0, "medium"),
        ("L" + "P" * 3, 100.0, 0, 25.0, "medium"),
    ],
)
def test_risk_level_at_each_default_threshold(
    figures_for, pattern, rate, consecutive, late_rate, level
):
    result = figures_for(pattern)

    assert (
        result["attendance_rate"],
        result["consecutive_absences"],
        result["late_rate"],
        result["risk_level"],
    ) == (rate, consecutive, late_rate, level)


@pytest.mark.parametrize(
    ("setting", "value", "level"),
    [
        # Sam's published rate is 66.67 (2 of 3), late rate 33.33, no absence in a row.
        ("ANALYTICS_HIGH_RISK_RATE", 66.68, "high"),
        ("ANALYTICS_HIGH_RISK_RATE", 66.67, "medium"),  # not below: medium (rate < 85)
    ],
)
def test_risk_thresholds_are_settings_compared_with_the_published_rate(
    app, monkeypatch, figures_for, setting, value, level
):
    monkeypatch.setitem(app.config, setting, value)

    assert figures_for("LAP")["risk_level"] == level


def test_every_risk_threshold_is_a_setting(app, monkeypatch, figures_for):
    # "PPLAAA": rate 50.0, late rate 16.67, 3 absences in a row: high by default; with
    # these settings no line is crossed, and moving any one of them brings its level back.
    loose = {
        "ANALYTICS_HIGH_RISK_RATE": 50,
        "ANALYTICS_HIGH_RISK_ABSENCES": 4,
        "ANALYTICS_MEDIUM_RISK_RATE": 50,
        "ANALYTICS_MEDIUM_RISK_ABSENCES": 4,
        "ANALYTICS_MEDIUM_RISK_LATE_RATE": 16.67,
    }
    for key, value in loose.items():
        monkeypatch.setitem(app.config, key, value)
    assert figures_for("PPLAAA")["risk_level"] == "low"

    for key, value, level in [
        ("ANALYTICS_HIGH_RISK_RATE", 50.01, "high"),
        ("ANALYTICS_HIGH_RISK_ABSENCES", 3, "high"),
        ("ANALYTICS_MEDIUM_RISK_RATE", 50.01, "medium"),
        ("ANALYTICS_MEDIUM_RISK_ABSENCES", 3, "medium"),
        ("ANALYTICS_MEDIUM_RISK_LATE_RATE", 16.66, "medium"),
    ]:
        monkeypatch.setitem(app.config, key, value)
        assert figures_for("")["risk_level"] == level, key
        monkeypatch.setitem(app.config, key, loose[key])


@pytest.mark.parametrize(
    ("rate", "late_rate", "consecutive", "level", "reason"),
    [
        (69.99, 0.0, 0, "high", "attendance rate 69.99% is below 70%"),
        (70.0, 0.0, 0, "medium", "attendance rate 70.0% is below 85%"),
        (84.99, 0.0, 0, "medium", "attendance rate 84.99% is below 85%"),
        (85.0, 0.0, 0, "low", ""),
        (100.0, 20.0, 0, "low", ""),
        (100.0, 20.01, 0, "medium", "late rate 20.01% is above 20%"),
        (100.0, 0.0, 2, "medium", "2 absences in a row (at least 2)"),
        (100.0, 0.0, 3, "high", "3 absences in a row (at least 3)"),
        (
            50.0,
            0.0,
            4,
            "high",
            "attendance rate 50.0% is below 70%; 4 absences in a row (at least 3)",
        ),
        (
            80.0,
            25.0,
            0,
            "medium",
            "attendance rate 80.0% is below 85%; late rate 25.0% is above 20%",
        ),
    ],
)
def test_risk_level_and_reason_at_the_hundredth_of_each_edge(
    rate, late_rate, consecutive, level, reason
):
    # Rates like 69.99 need hundreds of records; the classification is checked directly.
    assert risk.classify_risk(rate, late_rate, consecutive, risk.Thresholds()) == (level, reason)


def test_the_reason_is_for_pages_and_not_part_of_the_api_body(app, api_as, solo):
    record(app, solo.klass, {solo.student: "AAA"})

    body = api_as(solo.admin).get(student_url(solo.student)).json

    assert "risk_reason" not in body
    with app.app_context():
        result = analytics.student_analytics(
            actor=actor(solo.admin.user_id), student_id=solo.student.profile_id
        )
    assert result.figures.risk_level == "high"
    assert result.figures.risk_reason == (
        "attendance rate 0.0% is below 70%; 3 absences in a row (at least 3)"
    )


# --- class analytics -------------------------------------------------------------------------


@pytest.fixture
def risk_class(app):
    """A class of nine students over twenty sessions, one student at each risk edge."""
    admin = make_admin(app)
    patterns = {
        ("Rae", "Seventy"): "A" * 6 + "P" * 14,  # 70.0 → medium
        ("Rob", "Sixtyfive"): "A" * 7 + "P" * 13,  # 65.0 → high
        ("Eve", "Eightyfive"): "A" * 3 + "P" * 17,  # 85.0 → low
        ("Eli", "Eighty"): "A" * 4 + "P" * 16,  # 80.0 → medium
        ("Abe", "Three"): "P" * 17 + "AAA",  # 85.0, 3 in a row → high
        ("Ada", "Two"): "P" * 18 + "AA",  # 90.0, 2 in a row → medium
        ("Lou", "Twenty"): "L" * 4 + "P" * 16,  # late 20 → low
        ("Liz", "Quarter"): "L" * 5 + "P" * 15,  # late 25 → medium
        ("Nia", "Nothing"): "",  # no records → low
    }
    people = {
        last: make_student(app, first_name=first, last_name=last, with_token=False)
        for first, last in patterns
    }
    klass = make_class(app, admin=admin, students=list(people.values()), subject_code="RISK101")
    sessions = record(app, klass, {people[last]: p for (_, last), p in patterns.items() if p})
    return SimpleNamespace(admin=admin, klass=klass, people=people, sessions=sessions)


def test_class_analytics_has_the_contract_body(app, api_as, risk_class):
    resp = api_as(risk_class.admin).get(class_url(risk_class.klass))

    assert resp.status_code == 200, resp.json
    body = resp.json
    assert list(body) == [
        "class",
        "sessions",
        "attendance_rate",
        "students",
        "at_risk",
        "most_late",
    ]
    assert body["class"] == {
        "id": str(risk_class.klass.id),
        "name": risk_class.klass.name,
        "subject_code": "RISK101",
    }
    assert [list(s) for s in body["sessions"]] == [
        ["id", "start_time", "status", "attendance_rate"]
    ] * 20
    assert all(list(s) == ["student", *FIGURE_KEYS] for s in body["students"])
    assert list(body["students"][0]["student"]) == ["id", "student_id", "first_name", "last_name"]


def test_class_students_are_ordered_by_risk_then_rate_then_name(app, api_as, risk_class):
    body = api_as(risk_class.admin).get(class_url(risk_class.klass)).json

    order = [
        (s["student"]["last_name"], s["risk_level"], s["attendance_rate"]) for s in body["students"]
    ]
    assert order == [
        ("Sixtyfive", "high", 65.0),
        ("Three", "high", 85.0),
        ("Seventy", "medium", 70.0),
        ("Eighty", "medium", 80.0),
        ("Two", "medium", 90.0),
        ("Quarter", "medium", 100.0),
        ("Nothing", "low", 0.0),
        ("Eightyfive", "low", 85.0),
        ("Twenty", "low", 100.0),
    ]
    people = risk_class.people
    assert body["at_risk"] == [
        str(people[name].profile_id)
        for name in ["Sixtyfive", "Three", "Seventy", "Eighty", "Two", "Quarter"]
    ]
    assert body["most_late"] == [
        str(people["Quarter"].profile_id),
        str(people["Twenty"].profile_id),
    ]


def test_class_student_figures_equal_the_student_endpoint_for_that_class(app, api_as, risk_class):
    admin = api_as(risk_class.admin)
    body = admin.get(class_url(risk_class.klass)).json

    for entry in body["students"]:
        alone = admin.get(student_url(entry["student"]["id"], class_id=risk_class.klass.id)).json
        assert alone == entry


def test_class_sessions_rates_equal_the_session_endpoint(app, api_as, risk_class):
    admin = api_as(risk_class.admin)
    body = admin.get(class_url(risk_class.klass)).json

    assert [s["id"] for s in body["sessions"]] == [str(s) for s in risk_class.sessions]
    for entry in body["sessions"]:
        stats = admin.get(f"/api/attendance/session/{entry['id']}/").json["statistics"]
        assert entry["attendance_rate"] == stats["attendance_rate"]
    rates = [s["attendance_rate"] for s in body["sessions"]]
    assert body["attendance_rate"] == round(sum(rates) / len(rates), 2)


def test_class_sessions_are_the_started_ones_oldest_first_with_their_rates(app, api_as):
    admin = make_admin(app)
    ann, bob, cy = (
        make_student(app, first_name=first, last_name=last, with_token=False)
        for first, last in [("Ann", "A"), ("Bob", "B"), ("Cy", "C")]
    )
    klass = make_class(app, admin=admin, students=[ann, bob, cy])
    # Made newest first, so creation order is not the start order.
    third = make_session(app, klass, start_at=day(3))
    mark_many(app, klass, third, [(ann, "PRESENT"), (bob, "LATE"), (cy, "PRESENT")], at=day(3))
    first = make_session(app, klass, start_at=day(1))
    mark_many(app, klass, first, [(ann, "PRESENT"), (bob, "ABSENT")], at=day(1))  # Cy: none
    end_session(app, klass, first, at=day(1, 10))
    second = make_session(app, klass, start_at=day(2))
    mark_many(app, klass, second, [(ann, "PRESENT"), (bob, "PRESENT"), (cy, "ABSENT")], at=day(2))
    make_session(app, klass, start=False)  # SCHEDULED: not listed

    body = api_as(admin).get(class_url(klass)).json

    assert body["sessions"] == [
        {
            "id": str(first),
            "start_time": "2026-01-02T09:00:00Z",
            "status": "ENDED",
            "attendance_rate": 33.33,
        },
        {
            "id": str(second),
            "start_time": "2026-01-03T09:00:00Z",
            "status": "ACTIVE",
            "attendance_rate": 66.67,
        },
        {
            "id": str(third),
            "start_time": "2026-01-04T09:00:00Z",
            "status": "ACTIVE",
            "attendance_rate": 100.0,
        },
    ]
    assert body["attendance_rate"] == 66.67  # (33.33 + 66.67 + 100) / 3
    by_name = {s["student"]["first_name"]: s for s in body["students"]}
    assert figures(by_name["Cy"]) == {
        **NO_FIGURES,
        "total_sessions": 2,
        "present": 1,
        "absent": 1,
        "attendance_rate": 50.0,
        "risk_level": "high",
    }


def test_a_class_without_started_sessions_has_empty_figures(app, api_as):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=2)
    make_session(app, klass, start=False)

    body = api_as(admin).get(class_url(klass)).json

    assert body["sessions"] == []
    assert body["attendance_rate"] == 0.0
    assert [figures(s) for s in body["students"]] == [NO_FIGURES, NO_FIGURES]
    assert body["at_risk"] == []
    assert body["most_late"] == []


def test_class_figures_count_only_that_classs_records(app, api_as):
    admin = make_admin(app)
    kim = make_student(app, first_name="Kim", last_name="Both", with_token=False)
    math = make_class(app, admin=admin, students=[kim])
    art = make_class(app, admin=admin, students=[kim])
    record(app, math, {kim: "PPP"})
    record(app, art, {kim: "AAAA"}, first_start=day(10))

    body = api_as(admin).get(class_url(math)).json

    assert figures(body["students"][0])["total_sessions"] == 3
    assert body["students"][0]["risk_level"] == "low"
    assert body["at_risk"] == []


def test_an_unenrolled_student_is_not_listed_but_still_counts_in_session_rates(app, api_as):
    admin = make_admin(app)
    stay = make_student(app, first_name="Stay", last_name="Here", with_token=False)
    gone = make_student(app, first_name="Gone", last_name="Away", with_token=False)
    klass = make_class(app, admin=admin, students=[stay, gone])
    [session_id] = record(app, klass, {stay: "P", gone: "L"})
    unenroll(app, klass, gone, admin=admin)

    body = api_as(admin).get(class_url(klass)).json

    assert [s["student"]["id"] for s in body["students"]] == [str(stay.profile_id)]
    assert body["most_late"] == []
    stats = api_as(admin).get(f"/api/attendance/session/{session_id}/").json["statistics"]
    assert body["sessions"][0]["attendance_rate"] == stats["attendance_rate"] == 100.0


def test_most_late_is_up_to_five_most_late_first_ties_by_last_then_first_name(app, api_as):
    admin = make_admin(app)
    names = [
        ("Zed", "Adams"),  # 3 LATE
        ("Amy", "Brown"),  # 2 LATE, tie with Ben Brown and Al Cole
        ("Ben", "Brown"),
        ("Al", "Cole"),
        ("Cat", "Able"),  # 1 LATE
        ("Dan", "Zane"),  # 1 LATE, past the fifth place
        ("Eve", "Early"),  # never LATE
    ]
    people = {
        (first, last): make_student(app, first_name=first, last_name=last, with_token=False)
        for first, last in names
    }
    klass = make_class(app, admin=admin, students=list(people.values()))
    lates = {
        ("Zed", "Adams"): "LLL",
        ("Amy", "Brown"): "LLP",
        ("Ben", "Brown"): "PLL",
        ("Al", "Cole"): "LPL",
        ("Cat", "Able"): "LPP",
        ("Dan", "Zane"): "PPL",
        ("Eve", "Early"): "PPP",
    }
    record(app, klass, {people[k]: p for k, p in lates.items()})

    body = api_as(admin).get(class_url(klass)).json

    assert body["most_late"] == [
        str(people[k].profile_id)
        for k in [
            ("Zed", "Adams"),
            ("Amy", "Brown"),
            ("Ben", "Brown"),
            ("Al", "Cole"),
            ("Cat", "Able"),
        ]
    ]


def test_students_with_equal_risk_and_rate_are_ordered_by_last_then_first_name(app, api_as):
    admin = make_admin(app)
    names = [("Bea", "Moss"), ("Al", "Moss"), ("Zoe", "Adler")]
    people = [
        make_student(app, first_name=first, last_name=last, with_token=False)
        for first, last in names
    ]
    klass = make_class(app, admin=admin, students=people)
    record(app, klass, {p: "AP" for p in people})

    body = api_as(admin).get(class_url(klass)).json

    assert [(s["student"]["first_name"], s["risk_level"]) for s in body["students"]] == [
        ("Zoe", "high"),
        ("Al", "high"),
        ("Bea", "high"),
    ]
    assert body["at_risk"] == [s["student"]["id"] for s in body["students"]]


# --- who reads what --------------------------------------------------------------------------


@pytest.fixture
def two_teachers(app):
    """John in MATH101 (Tina) and HIST101 (Hal); Mia only in HIST101."""
    admin = make_admin(app)
    tina = make_teacher(app, first_name="Tina", last_name="Lee")
    hal = make_teacher(app, first_name="Hal", last_name="Ng")
    john = make_student(app, first_name="John", last_name="Doe", number="S12345")
    mia = make_student(app, first_name="Mia", last_name="Roe")
    math = make_class(app, admin=admin, teacher=tina, students=[john], subject_code="MATH101")
    hist = make_class(app, admin=admin, teacher=hal, students=[john, mia], subject_code="HIST101")
    record(app, math, {john: "PPL"})  # 100%, late 33.33
    record(app, hist, {john: "AAA", mia: "PPP"}, first_start=day(10))  # John 0%, 3 in a row
    return SimpleNamespace(
        admin=admin, tina=tina, hal=hal, john=john, mia=mia, math=math, hist=hist
    )


def test_an_admin_sees_a_students_figures_over_all_their_records(app, api_as, two_teachers):
    s = two_teachers
    result = figures(api_as(s.admin).get(student_url(s.john)).json)

    assert (
        result["total_sessions"],
        result["attendance_rate"],
        result["consecutive_absences"],
    ) == (
        6,
        50.0,
        3,
    )
    assert result["trend"] == "stable"
    assert result["risk_level"] == "high"


def test_a_teacher_sees_figures_over_their_own_classes_records_only(app, api_as, two_teachers):
    s = two_teachers

    resp = api_as(s.tina).get(student_url(s.john))

    assert resp.status_code == 200, resp.json
    assert figures(resp.json) == {
        "total_sessions": 3,
        "present": 2,
        "absent": 0,
        "late": 1,
        "excused": 0,
        "attendance_rate": 100.0,
        "late_rate": 33.33,
        "consecutive_absences": 0,
        "trend": "stable",
        "risk_level": "medium",
    }


def test_a_teacher_may_narrow_to_a_class_they_teach(app, api_as, two_teachers):
    s = two_teachers

    resp = api_as(s.hal).get(student_url(s.john, class_id=s.hist.id))

    assert resp.status_code == 200
    assert (resp.json["total_sessions"], resp.json["absent"]) == (3, 3)


def test_a_teacher_naming_a_class_they_do_not_teach_is_refused(app, api_as, two_teachers):
    s = two_teachers

    resp = api_as(s.tina).get(student_url(s.john, class_id=s.hist.id))

    assert resp.status_code == 403
    assert resp.json == {"detail": "You do not have permission to perform this action."}


def test_a_teacher_is_refused_a_student_in_none_of_their_classes(app, api_as, two_teachers):
    s = two_teachers

    resp = api_as(s.tina).get(student_url(s.mia))

    assert resp.status_code == 403
    assert resp.json == {"detail": "You do not have permission to perform this action."}


def test_a_teacher_is_refused_a_former_student_with_records_only(app, api_as, two_teachers):
    s = two_teachers
    unenroll(app, s.math, s.john, admin=s.admin)

    resp = api_as(s.tina).get(student_url(s.john))

    assert resp.status_code == 403


def test_an_admin_may_narrow_a_student_to_any_class(app, api_as, two_teachers):
    s = two_teachers

    resp = api_as(s.admin).get(student_url(s.john, class_id=s.math.id))

    assert figures(resp.json)["total_sessions"] == 3
    assert resp.json["late"] == 1


def test_a_student_reads_their_own_analytics(app, api_as, two_teachers):
    s = two_teachers

    whole = api_as(s.john).get(student_url(s.john))
    narrowed = api_as(s.john).get(student_url(s.john, class_id=s.math.id))

    assert whole.status_code == narrowed.status_code == 200
    assert whole.json["total_sessions"] == 6
    assert narrowed.json["total_sessions"] == 3


def test_a_student_may_not_read_another_students_or_a_classs_analytics(app, api_as, two_teachers):
    s = two_teachers

    other = api_as(s.john).get(student_url(s.mia))
    klass = api_as(s.john).get(class_url(s.hist))

    assert other.status_code == klass.status_code == 403
    assert (
        other.json == klass.json == {"detail": "You do not have permission to perform this action."}
    )


def test_a_teacher_reads_only_the_classes_they_teach(app, api_as, two_teachers):
    s = two_teachers

    own = api_as(s.tina).get(class_url(s.math))
    other = api_as(s.tina).get(class_url(s.hist))

    assert own.status_code == 200
    assert [e["student"]["id"] for e in own.json["students"]] == [str(s.john.profile_id)]
    assert other.status_code == 403


def test_analytics_need_authentication(client, two_teachers):
    s = two_teachers

    for path in (student_url(s.john), class_url(s.math)):
        resp = client.get(path)
        assert resp.status_code == 401
        assert resp.json == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize("bad", ["0b9a5f3e-52f1-4c8e-9d0e-2f6a1c7b8e90", "not-a-uuid", "123"])
def test_an_unknown_or_malformed_id_in_the_path_is_not_found(app, api_as, two_teachers, bad):
    admin = api_as(two_teachers.admin)

    for path in (student_url(bad), class_url(bad)):
        resp = admin.get(path)
        assert resp.status_code == 404, path
        assert "detail" in resp.json


def test_a_malformed_class_filter_is_a_400_on_class_id(app, api_as, two_teachers):
    s = two_teachers

    resp = api_as(s.admin).get(student_url(s.john, class_id="nope"))

    assert resp.status_code == 400
    assert resp.json == {"class_id": ["Must be a valid UUID."]}


def test_a_class_filter_naming_no_class_is_a_400_on_class_id(app, api_as, two_teachers):
    s = two_teachers
    missing = uuid.uuid4()

    resp = api_as(s.admin).get(student_url(s.john, class_id=missing))

    assert resp.status_code == 400
    assert resp.json == {"class_id": [f'Invalid pk "{missing}" - object does not exist.']}


# --- query counts ----------------------------------------------------------------------------


def _class_of(app, admin, size: int):
    students = make_students(app, size)
    klass = make_class(app, admin=admin, students=students)
    statuses = ["PRESENT", "ABSENT", "LATE"]
    run_sessions(
        app,
        klass,
        [{s: statuses[(i + j) % 3] for j, s in enumerate(students)} for i in range(3)],
        first_start=day(0),
    )
    return klass, students


def test_class_analytics_cost_the_same_queries_for_5_or_60_students(app, api_as, count_queries):
    admin = make_admin(app)
    small, _ = _class_of(app, admin, 5)
    large, _ = _class_of(app, admin, 60)
    client = api_as(admin)

    with count_queries() as q_small:
        small_resp = client.get(class_url(small))
    with count_queries() as q_large:
        large_resp = client.get(class_url(large))

    assert small_resp.status_code == large_resp.status_code == 200
    assert len(small_resp.json["students"]) == 5
    assert len(large_resp.json["students"]) == 60
    assert q_small.besides_authentication == q_large.besides_authentication
    # Authentication, then class, enrolled students, session rates, student figures.
    assert q_large.count <= 6, q_large.statements


def test_student_analytics_cost_the_same_queries_whatever_the_history(app, api_as, count_queries):
    admin = make_admin(app)
    teacher = make_teacher(app)
    few, many = make_student(app, with_token=False), make_student(app, with_token=False)
    klass = make_class(app, admin=admin, teacher=teacher, students=[few, many])
    record(app, klass, {few: "P", many: "PALPALPALPAL"})
    as_teacher = api_as(teacher)

    with count_queries() as q_few:
        assert as_teacher.get(student_url(few, class_id=klass.id)).status_code == 200
    with count_queries() as q_many:
        assert as_teacher.get(student_url(many, class_id=klass.id)).status_code == 200

    assert q_few.besides_authentication == q_many.besides_authentication
