"""Read side: attendance analytics of a student and of a class (constant query counts).

Figures are the contract's ("Analytics and exports"): counts, rates, consecutive absences,
trend and risk level over the records of started (ACTIVE or ENDED) sessions, ordered by the
session's ``start_time``. Every per-record figure is an SQL aggregate over a window ranking
(``row_number`` over ``start_time`` newest first), so a class of any size costs the same
queries; ``reporting.risk`` classifies the few aggregates of each student.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Row,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
)

from attendance_app.extensions import db
from attendance_app.models import (
    Attendance,
    AttendanceStatus,
    ClassSession,
    Enrollment,
    Role,
    SchoolClass,
    SessionStatus,
    Student,
    User,
)
from attendance_app.services import permissions
from attendance_app.services.errors import Invalid
from attendance_app.services.reporting.history import (
    HistoryFilters,
    get_student,
    visible_records_filter,
)
from attendance_app.services.reporting.risk import (
    RISK_HIGH,
    RISK_LOW,
    RISK_MEDIUM,
    RISK_ORDER,
    Counts,
    Figures,
    Thresholds,
    figures,
)
from attendance_app.services.reporting.statistics import rate
from attendance_app.services.school import structure

#: How many students ``most_late`` names at most.
MOST_LATE_LIMIT = 5

#: Sessions whose records count: every started one.
STARTED = (SessionStatus.ACTIVE, SessionStatus.ENDED)


@dataclass(frozen=True)
class StudentAnalytics:
    student: Student
    figures: Figures


@dataclass(frozen=True)
class SessionRate:
    id: uuid.UUID
    start_time: datetime
    status: SessionStatus
    attendance_rate: float


@dataclass(frozen=True)
class ClassAnalytics:
    school_class: SchoolClass
    sessions: list[SessionRate]  # oldest first
    attendance_rate: float  # mean of the sessions' rates
    students: list[StudentAnalytics]  # riskiest first
    at_risk: list[uuid.UUID]  # high, then medium
    most_late: list[uuid.UUID]


# --- the aggregate query ---------------------------------------------------------------------


def student_counts(clauses: list[ColumnElement[bool]], *, window: int) -> dict[uuid.UUID, Counts]:
    """{Student.id: Counts} over the started sessions' records matching ``clauses`` (WHERE
    terms on Attendance / ClassSession), in one query whatever the number of students."""
    return {key[0]: c for key, c in _counts(clauses, window, (Attendance.student_id,)).items()}


def counts_statement(
    clauses: list[ColumnElement[bool]],
    window: int | BindParameter[int],
    window2: int | BindParameter[int],
    by: tuple[Any, ...],
) -> Select[Any]:
    """The query behind ``_counts``: the values of ``by``, then the nine aggregates (in
    ``Counts`` order, as ``counts_of`` reads them) per group. Consecutive absences count back
    from the newest record to the first that is not ABSENT, skipping excused absences (they
    neither count nor break a run): ``m`` numbers only the records that are not excused
    absences. The trend windows are ranks 1..``window`` and ``window`` + 1..``window2``."""
    order = (ClassSession.start_time.desc(), ClassSession.id.desc())
    excused_absence = and_(
        Attendance.status == AttendanceStatus.ABSENT, Attendance.absence_reason.is_not(None)
    )
    ranked = (
        select(
            *(column.label(f"k{i}") for i, column in enumerate(by)),
            Attendance.status.label("status"),
            Attendance.absence_reason.is_not(None).label("excused"),
            excused_absence.label("excused_absence"),
            # The same frame as ``m``'s (row_number ignores frames): one window, so PostgreSQL
            # computes both in one pass over the sorted rows instead of two.
            func.row_number().over(partition_by=by, order_by=order, rows=(None, 0)).label("n"),
            func.sum(case((excused_absence, 0), else_=1))
            .over(partition_by=by, order_by=order, rows=(None, 0))
            .label("m"),
        )
        .join(ClassSession, ClassSession.id == Attendance.session_id)
        .where(
            ClassSession.status.in_(STARTED),
            ClassSession.start_time.is_not(None),
            *clauses,
        )
        .subquery("ranked")
    )
    keys = [ranked.c[f"k{i}"] for i in range(len(by))]
    status, n, m = ranked.c.status, ranked.c.n, ranked.c.m
    attended = status != AttendanceStatus.ABSENT
    excused = ranked.c.excused.is_(True)
    excused_absence = ranked.c.excused_absence.is_(True)
    return select(
        *keys,
        func.count(),
        func.count().filter(status == AttendanceStatus.PRESENT),
        func.count().filter(status == AttendanceStatus.ABSENT),
        func.count().filter(status == AttendanceStatus.LATE),
        func.min(m).filter(attended),
        func.count().filter(attended, n <= window),
        func.count().filter(attended, n > window, n <= window2),
        func.count().filter(excused),
        func.count().filter(excused_absence),
    ).group_by(*keys)


#: A record's code in ``class_codes_statement``: its status's initial, lower case when the
#: record is excused (it has an ``absence_reason``).
_CODE_OF = case(
    (
        Attendance.absence_reason.is_(None),
        case(
            (Attendance.status == AttendanceStatus.PRESENT, "P"),
            (Attendance.status == AttendanceStatus.LATE, "L"),
            else_="A",
        ),
    ),
    else_=case(
        (Attendance.status == AttendanceStatus.PRESENT, "p"),
        (Attendance.status == AttendanceStatus.LATE, "l"),
        else_="a",
    ),
)
#: Added to a session's rank so that every rank is written with the same 10 digits, and the
#: text order of the tokens is their ranks' order (for any class of fewer than 9e9 sessions).
_RANK_BASE = 1_000_000_000


#: ``class_codes_statement``'s separators, as SQL literals: a separator given as a str is
#: written into the SQL text on every execution (SQLAlchemy renders it "literal_execute"),
#: the alert check of every single write included; the text is the same.
_NOTHING: Any = literal_column("''")
_COMMA: Any = literal_column("','")


def class_codes_statement(
    class_id: Any, student_ids: Any, *, ordered: bool
) -> Select[uuid.UUID, str]:
    """Per student of ``student_ids`` (what ``IN`` takes, or a function that makes the
    condition on a student id column: ``dialect.in_uuids`` for many) with records in the
    class's started sessions: their records as one text for :func:`counts_of_codes`, which
    gives the same aggregates as ``counts_statement`` for ``by=(Attendance.student_id,)``
    over those records.

    ``ordered`` (PostgreSQL): the records' codes (``_CODE_OF``) newest first, in
    ``counts_statement``'s order, by an ordered ``string_agg``. Otherwise (SQLite before
    3.44 orders no aggregate): one token per record, its session's rank among the class's
    started sessions (newest first, the same order) written in 10 digits, then its code, the
    tokens comma separated in no order (``codes_of_tokens`` orders them). Either way the
    database only joins and concatenates: ``counts_statement`` ranks every record and runs
    two window aggregates per student, on a bulk mark of a class (every record of the class)
    most of the alert check's time; here one sort of the class's few sessions, or each
    student's records ordered within their group."""
    sessions = [
        ClassSession.class_id == class_id,
        # The statuses as bound values, not a list: a list is an "expanding" parameter,
        # rendered into the SQL text on every execution (the alert check of every mark);
        # the text sent is the same, ``IN (?, ?)``.
        ClassSession.status.in_([literal(status, ClassSession.status.type) for status in STARTED]),
        ClassSession.start_time.is_not(None),
    ]
    among = (
        student_ids(Attendance.student_id)
        if callable(student_ids)
        else Attendance.student_id.in_(student_ids)
    )
    if ordered:
        newest_first = (ClassSession.start_time.desc(), ClassSession.id.desc())
        return (
            select(
                Attendance.student_id,
                func.aggregate_strings(_CODE_OF, _NOTHING).aggregate_order_by(*newest_first),
            )
            .join(ClassSession, ClassSession.id == Attendance.session_id)
            .where(*sessions, among)
            .group_by(Attendance.student_id)
        )
    ranks = (
        select(
            ClassSession.id,
            func.row_number()
            .over(order_by=(ClassSession.start_time.desc(), ClassSession.id.desc()))
            .label("place"),
        )
        .where(*sessions)
        .subquery("ranks")
    )
    token = cast(ranks.c.place + _RANK_BASE, String) + _CODE_OF
    return (
        select(Attendance.student_id, func.aggregate_strings(token, _COMMA))
        .join(ranks, ranks.c.id == Attendance.session_id)
        .where(among)
        .group_by(Attendance.student_id)
    )


def codes_of_tokens(tokens: str) -> str:
    """The codes, newest first, of ``class_codes_statement``'s unordered tokens."""
    return "".join([token[-1] for token in sorted(tokens.split(","))])


def counts_of_codes(codes: str, window: int) -> tuple[Any, ...]:
    """``counts_statement``'s nine aggregates (as ``counts_of`` reads them) of one student's
    records from their codes newest first (``class_codes_statement``): the same
    definitions, on one character per record (``tests/services/test_alerts.py`` compares
    both on mixes of statuses, excuses and session order)."""
    present, late = codes.count("P") + codes.count("p"), codes.count("L") + codes.count("l")
    excused_absent = codes.count("a")
    absent = codes.count("A") + excused_absent
    # ``m`` numbers the records that are not excused absences; the first attended record's
    # ``m`` is its place among them (every record before it is an absence).
    counted = codes.replace("a", "")
    after_run = counted.lstrip("A")
    first = len(counted) - len(after_run) + 1 if after_run else None
    recent, earlier = codes[:window], codes[window : 2 * window]
    return (
        len(codes),
        present,
        absent,
        late,
        first,
        len(recent) - recent.count("A") - recent.count("a"),
        len(earlier) - earlier.count("A") - earlier.count("a"),
        codes.count("p") + codes.count("l") + excused_absent,
        excused_absent,
    )


def _counts(
    clauses: list[ColumnElement[bool]], window: int, by: tuple[Any, ...]
) -> dict[tuple[Any, ...], Counts]:
    """{values of ``by``: Counts} over the started sessions' records matching ``clauses``, each
    group's records ranked newest session first (one query; ``_counts_statement``)."""
    rows = db.session.execute(counts_statement(clauses, window, 2 * window, by))
    return _counts_from_rows(rows, len(by))


def _counts_from_rows(rows: Iterable[Row[Any]], width: int) -> dict[tuple[Any, ...], Counts]:
    return {tuple(row[:width]): counts_of(row[width:]) for row in rows}


def counts_of(values: Sequence[Any]) -> Counts:
    """The ``Counts`` of one group from ``counts_statement``'s nine aggregates."""
    (total, present, absent, late, first, recent, earlier, excused_n, excused_absent) = values
    return Counts(
        total=int(total),
        present=int(present or 0),
        absent=int(absent or 0),
        late=int(late or 0),
        first_attended_rank=None if first is None else int(first),
        recent_attended=int(recent or 0),
        earlier_attended=int(earlier or 0),
        excused=int(excused_n or 0),
        excused_absent=int(excused_absent or 0),
    )


def class_figures(
    class_ids: list[uuid.UUID], student_id: uuid.UUID | None = None
) -> dict[uuid.UUID, dict[uuid.UUID, Figures]]:
    """{class id: {Student.id: Figures}}: each enrolled student's (or only ``student_id``'s)
    figures over their records in that class; students with none are left out (low risk).

    One query for any number of classes. Every "in this class" figure — a class's analytics,
    its count at risk on the teacher's home, a student's classes on their page — is read from
    here, so one scope always gives one number."""
    if not class_ids:
        return {}
    thresholds = Thresholds.from_config()
    enrolled = (
        select(Enrollment.student_id)
        .where(
            Enrollment.class_id == ClassSession.class_id,
            Enrollment.student_id == Attendance.student_id,
        )
        .exists()
    )
    clauses = [ClassSession.class_id.in_(class_ids), enrolled]
    if student_id is not None:
        clauses.append(Attendance.student_id == student_id)
    counts = _counts(
        clauses,
        thresholds.trend_window,
        (ClassSession.class_id, Attendance.student_id),
    )
    out: dict[uuid.UUID, dict[uuid.UUID, Figures]] = {cid: {} for cid in class_ids}
    for (class_id, student_id), c in counts.items():
        out[class_id][student_id] = figures(c, thresholds)
    return out


@dataclass(frozen=True)
class RiskCounts:
    """How many of a class's students are at high and at medium risk in it."""

    high: int = 0
    medium: int = 0

    @property
    def at_risk(self) -> int:
        return self.high + self.medium


def risk_counts(*, actor: User, class_ids: list[uuid.UUID]) -> dict[uuid.UUID, RiskCounts]:
    """{class id: RiskCounts} for the classes ``actor`` may read among ``class_ids`` (a teacher
    their own, an admin any): the same students a class's analytics lists as at risk. One
    query (two for a teacher)."""
    if not permissions.is_admin(actor):
        taught = set(db.session.scalars(permissions.taught_class_ids(actor)))
        class_ids = [cid for cid in class_ids if cid in taught]
    out = {}
    for class_id, by_student in class_figures(class_ids).items():
        levels = [f.risk_level for f in by_student.values()]
        out[class_id] = RiskCounts(high=levels.count(RISK_HIGH), medium=levels.count(RISK_MEDIUM))
    return out


# --- student analytics -----------------------------------------------------------------------


def student_analytics(
    *, actor: User, student_id: uuid.UUID, class_id: uuid.UUID | None = None
) -> StudentAnalytics:
    """A student's figures over their records (one class's with ``class_id``).

    A teacher's view covers only the classes they teach. Raises NotFound (student),
    Invalid (``class_id`` names no class), Forbidden (not themself, a teacher with the
    student in none of their classes or naming a class they do not teach, or not an admin).
    """
    student = get_student(student_id)
    permissions.require_student_analytics_reader(actor, student_id)
    if class_id is not None:
        school_class = db.session.get(SchoolClass, class_id)
        if school_class is None:
            raise Invalid(structure.invalid_pk(class_id), field="class_id")
        permissions.require_class_analytics_filter(actor, school_class)
    clauses = [
        Attendance.student_id == student_id,
        *visible_records_filter(actor, HistoryFilters(class_id=class_id)),
    ]
    thresholds = Thresholds.from_config()
    counts = student_counts(clauses, window=thresholds.trend_window)
    return StudentAnalytics(student, figures(counts.get(student_id, Counts()), thresholds))


@dataclass(frozen=True)
class ClassFigures:
    school_class: SchoolClass
    figures: Figures


def student_class_figures(*, actor: User, student_id: uuid.UUID) -> list[ClassFigures]:
    """A student's figures in each class they are enrolled in that ``actor`` may read (a
    teacher, their own classes), by class name: the very figures each class's analytics
    shows for them. Two queries. Raises NotFound (student), Forbidden (as
    ``student_analytics``)."""
    get_student(student_id)
    permissions.require_student_analytics_reader(actor, student_id)
    stmt = (
        select(SchoolClass)
        .join(Enrollment, Enrollment.class_id == SchoolClass.id)
        .where(Enrollment.student_id == student_id)
        .order_by(SchoolClass.name, SchoolClass.id)
    )
    if not permissions.is_admin(actor) and actor.role != Role.STUDENT:
        stmt = stmt.where(SchoolClass.id.in_(permissions.taught_class_ids(actor)))
    classes = list(db.session.scalars(stmt))
    found = class_figures([c.id for c in classes], student_id)
    return [ClassFigures(c, found[c.id].get(student_id, Figures())) for c in classes]


# --- class analytics -------------------------------------------------------------------------


def session_rates(class_id: uuid.UUID) -> list[SessionRate]:
    """The class's started sessions, oldest first, with their attendance rates (one query).

    A session's base is the class's enrolled students plus anyone with a record in it who is
    no longer enrolled, as in ``statistics.statistics_for_sessions`` (so each rate equals
    the one the session endpoint shows).
    """
    enrolled_ids = select(Enrollment.student_id).where(Enrollment.class_id == class_id)
    enrolled = (
        select(func.count())
        .select_from(Enrollment)
        .where(Enrollment.class_id == class_id)
        .scalar_subquery()
    )
    counted = func.count(Attendance.id)
    rows = db.session.execute(
        select(
            ClassSession.id,
            ClassSession.start_time,
            ClassSession.status,
            enrolled,
            counted.filter(Attendance.status != AttendanceStatus.ABSENT),
            counted.filter(Attendance.student_id.not_in(enrolled_ids)),
        )
        .select_from(ClassSession)
        .outerjoin(Attendance, Attendance.session_id == ClassSession.id)
        .where(
            ClassSession.class_id == class_id,
            ClassSession.status.in_(STARTED),
            ClassSession.start_time.is_not(None),
        )
        .group_by(ClassSession.id, ClassSession.start_time, ClassSession.status)
        .order_by(ClassSession.start_time, ClassSession.id)
    )
    return [
        SessionRate(sid, start, status, rate(int(attended or 0), int(base or 0) + int(out or 0)))
        for sid, start, status, base, attended, out in rows
    ]


def class_analytics(*, actor: User, class_id: uuid.UUID) -> ClassAnalytics:
    """A class's sessions and rates and every enrolled student's figures over its records.

    Four queries whatever the class size (class, enrolled students, session rates, student
    figures). Raises NotFound (class), Forbidden (not its teacher, not an admin).
    """
    school_class = structure.get_class_for(actor, class_id)
    students = structure.enrolled_students(class_id)
    sessions = session_rates(class_id)
    by_student = class_figures([class_id])[class_id]
    rows = [StudentAnalytics(s, by_student.get(s.id, Figures())) for s in students]
    rows.sort(key=_risk_order)
    mean = round(sum(s.attendance_rate for s in sessions) / len(sessions), 2) if sessions else 0.0
    return ClassAnalytics(
        school_class=school_class,
        sessions=sessions,
        attendance_rate=mean,
        students=rows,
        at_risk=[r.student.id for r in rows if r.figures.risk_level != RISK_LOW],
        most_late=[
            r.student.id
            for r in sorted((r for r in rows if r.figures.late), key=_lateness_order)[
                :MOST_LATE_LIMIT
            ]
        ],
    )


def _name(student: Student) -> tuple[str, str, str]:
    return (student.user.last_name, student.user.first_name, student.student_number)


def _risk_order(row: StudentAnalytics) -> tuple[Any, ...]:
    """High, medium, low; then the lowest attendance rate; then last and first name."""
    return (RISK_ORDER[row.figures.risk_level], row.figures.attendance_rate, *_name(row.student))


def _lateness_order(row: StudentAnalytics) -> tuple[Any, ...]:
    """Most LATE first; then last and first name."""
    return (-row.figures.late, *_name(row.student))
