"""The roster of a session as a teacher sees it: every student with their record, if any."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, func, or_, select
from sqlalchemy.orm import aliased

from attendance_app.models import (
    AbsenceReason,
    AlertState,
    Attendance,
    AttendanceStatus,
    ClassSession,
    Enrollment,
    Student,
    User,
    utcnow,
)
from attendance_app.models.people import full_name
from attendance_app.services.marking.check_in import is_checked_in
from attendance_app.services.marking.sessions import get_session_for
from attendance_app.services.notifying.alerts import alert_reasons
from attendance_app.services.reporting.statistics import (
    SessionStatistics,
    session_counts,
    session_statistics,
    statistics_from_counts,
)
from attendance_app.services.transaction import execute_core


@dataclass(frozen=True, slots=True)
class RosterPerson:
    """The name (and address) shown for a roster student: read as columns, not an entity."""

    first_name: str
    last_name: str
    email: str
    #: The folded "first last" / "last first" the roster search compares (users.name_search).
    name_search: str

    @property
    def full_name(self) -> str:
        return full_name(self.first_name, self.last_name)


@dataclass(frozen=True, slots=True)
class RosterStudent:
    """A roster student's columns (the tile, the end page and the demo need no more)."""

    id: uuid.UUID
    student_number: str
    user_id: uuid.UUID
    user: RosterPerson


@dataclass(frozen=True, slots=True)
class RosterRecord:
    """A roster student's record, as columns: what a tile shows and a tap compares."""

    id: uuid.UUID
    status: AttendanceStatus
    notes: str | None
    version: int
    marked_by_id: uuid.UUID | None
    marked_at: datetime
    late_at: datetime | None
    updated_at: datetime
    absence_reason: AbsenceReason | None
    excuse_note: str | None

    @property
    def excused(self) -> bool:
        return self.absence_reason is not None

    def minutes_late(self, session_start: datetime | None) -> int | None:
        """As ``Attendance.minutes_late`` (one rule: the same function does the sum)."""
        return Attendance.minutes_late(self, session_start)  # type: ignore[arg-type]


#: The columns a RosterRecord is built from, in its fields' order (one list for the query
#: and the constructor).
_RECORD_COLUMNS = (
    Attendance.id,
    Attendance.status,
    Attendance.notes,
    Attendance.version,
    Attendance.marked_by_id,
    Attendance.marked_at,
    Attendance.late_at,
    Attendance.updated_at,
    Attendance.absence_reason,
    Attendance.excuse_note,
)
#: Where a roster query row's record columns start (after the 7 student columns) and where
#: the marker's names start (after the record's).
_RECORD = 7
_MARKER = _RECORD + len(_RECORD_COLUMNS)


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One roster line: a student (enrolled, or with a record) and their record if marked.

    Not ``statistics.RecordView`` (the JSON session view: records only, newest first, already
    as text) nor ``statistics.RecordRow`` (a write's answer, live entities): a roster line
    exists before its record does, and the tile needs Python values (the record's version for
    a tap, the marker's id for "checked in", ``late_at`` for the late minutes).
    """

    student: RosterStudent
    record: RosterRecord | None
    marked_by_name: str | None = None

    @property
    def status(self) -> AttendanceStatus | None:
        return self.record.status if self.record else None

    @property
    def checked_in(self) -> bool:
        """The student checked themself in (the tile says so instead of a marker's name)."""
        return is_checked_in(self.record, self.student)  # type: ignore[arg-type]

    @property
    def initials(self) -> str:
        user = self.student.user
        return (user.first_name[:1] + user.last_name[:1]).upper()

    def minutes_late(self, session: ClassSession) -> int | None:
        return self.record.minutes_late(session.start_time) if self.record else None


@dataclass(frozen=True)
class Roster:
    session: ClassSession
    statistics: SessionStatistics
    rows: list[RosterRow]
    histories: dict[uuid.UUID, MiniHistory] = field(default_factory=dict)

    @property
    def unmarked(self) -> list[RosterRow]:
        return [r for r in self.rows if r.record is None]


#: How far back "absences this term" looks.
TERM_DAYS = 120
#: How many earlier sessions of the class each tile shows.
RECENT_SESSIONS = 5


def _roster_statement(for_students: bool, *, tile: bool = False) -> Any:
    """The roster query (``roster_rows``), built once: the session and its class bound as
    ``session_id`` and ``class_id``; ``for_students`` adds ``student_ids`` (expanding).
    ``tile`` (of one student, bound as ``student_id`` instead) adds, after the row's columns,
    the session's :func:`statistics.session_counts`, the student's alert reason (NULL: not
    over the line) and mini-history (``_tile_history``, a row per recent session): a tap's
    answer in one read. One plain parameter, not an expanding list of one: SQLAlchemy renders
    an expanding list into the statement's text on every execution (~60 Python calls and a
    pass over the whole text, a tap's answer each time)."""
    marker = aliased(User)
    student_user = aliased(User)
    enrolled = (
        select(Enrollment.student_id)
        .where(Enrollment.class_id == bindparam("class_id"))
        .scalar_subquery()
    )
    # Columns, not Student/User/Attendance entities: building 500 of each (and their identity
    # map entries) was most of the page's time; the tiles need these 19 values.
    stmt = (
        select(
            Student.id,
            Student.student_number,
            Student.user_id,
            student_user.first_name,
            student_user.last_name,
            student_user.email,
            student_user.name_search,
            *_RECORD_COLUMNS,
            marker.first_name,
            marker.last_name,
        )
        .join(student_user, student_user.id == Student.user_id)
        .outerjoin(
            Attendance,
            and_(
                Attendance.student_id == Student.id,
                Attendance.session_id == bindparam("session_id"),
            ),
        )
        .outerjoin(marker, marker.id == Attendance.marked_by_id)
        .where(or_(Student.id.in_(enrolled), Attendance.id.is_not(None)))
        .order_by(student_user.last_name, student_user.first_name, Student.student_number)
    )
    if tile:
        stmt = stmt.where(Student.id == bindparam("student_id"))
    elif for_students:
        stmt = stmt.where(Student.id.in_(bindparam("student_ids", expanding=True)))
    if tile:
        # The counts are correlated to ClassSession alone (not to this Attendance), so the one
        # session row joined here gives the whole session's figures beside the student's row.
        history = _tile_history()
        stmt = (
            stmt.add_columns(
                *session_counts(), AlertState.reason, history.c.absences, history.c.status
            )
            .join(ClassSession, ClassSession.id == bindparam("session_id"))
            .outerjoin(
                AlertState,
                and_(
                    AlertState.class_id == bindparam("class_id"),
                    AlertState.student_id == Student.id,
                ),
            )
            .outerjoin(
                history,
                and_(history.c.student_id == Student.id, history.c.n <= RECENT_SESSIONS),
            )
            .order_by(history.c.n.desc())
        )
    return stmt


def _in_window(sessions: Any) -> tuple[Any, ...]:
    """The sessions a mini-history looks back over (the page's and the tile's alike): this
    class's other sessions that started between ``since`` and ``until``
    (:func:`_history_window`'s parameters)."""
    return (
        sessions.class_id == bindparam("class_id"),
        sessions.id != bindparam("session_id"),
        sessions.start_time.is_not(None),
        sessions.start_time <= bindparam("until"),
        sessions.start_time >= bindparam("since"),
    )


def _newest_first(sessions: Any) -> tuple[Any, ...]:
    """A mini-history's order: newest start first, ties by id."""
    return (sessions.start_time.desc(), sessions.id.desc())


def _tile_history() -> Any:
    """A tile's mini-history as rows to join: the student's (``student_id``) records in the
    window of :func:`mini_histories` (this class's other sessions with a start between
    ``since`` and ``until``), each with its place ``n`` (1 the newest; ties by id) and the
    student's absences in the whole window, so a tap's answer reads it in its one statement
    (up to :data:`RECENT_SESSIONS` rows) instead of a second one (~190 Python calls with a
    history).
    A join, not a scalar subquery per recent session: psycopg converts a statement longer
    than 4 KiB on every execution instead of once."""
    past, its = aliased(Attendance), aliased(ClassSession)
    is_absent = case((past.status == AttendanceStatus.ABSENT, 1), else_=0)
    return (
        select(
            past.student_id,
            past.status,
            func.row_number()
            .over(partition_by=past.student_id, order_by=_newest_first(its))
            .label("n"),
            func.sum(is_absent).over(partition_by=past.student_id).label("absences"),
        )
        .join(its, its.id == past.session_id)
        .where(*_in_window(its), past.student_id == bindparam("student_id"))
        .subquery("history")
    )


#: ``roster_rows``' two statements (the whole roster; some students), built once: building
#: them per call (two aliases, a subquery, their cache keys) was most of a tap's answer.
_ROSTER = _roster_statement(for_students=False)
_ROSTER_OF_STUDENTS = _roster_statement(for_students=True)
_TILE = _roster_statement(for_students=False, tile=True)
#: Where a tile row's counts start, its alert reason, the student's absences this term and
#: one recent status (a row per recent session, oldest first).
_COUNTS = _MARKER + 2
_REASON, _ABSENCES, _RECENT_STATUS = -3, -2, -1


def roster_rows(
    session: ClassSession, student_ids: list[uuid.UUID] | None = None
) -> list[RosterRow]:
    """Enrolled students plus anyone with a record in the session, by last and first name.

    One query whatever the class size.
    """
    params: dict[str, Any] = {"session_id": session.id, "class_id": session.class_id}
    if student_ids is not None:
        params["student_ids"] = student_ids
    stmt = _ROSTER if student_ids is None else _ROSTER_OF_STUDENTS
    # On the connection (``execute_core``), not through the Session's ORM execution of these
    # ORM attributes (a compile state, a row loader): a visible share of a tap's answer.
    return [_roster_row(row) for row in execute_core(stmt, params)]


def _roster_row(row: Any) -> RosterRow:
    """A roster query's row (a spliced column list: mypy cannot type the slices; the tests
    check them) as a RosterRow."""
    student_id, number, user_id, first_name, last_name, email, name_search = row[:_RECORD]
    student = RosterStudent(
        student_id, number, user_id, RosterPerson(first_name, last_name, email, name_search)
    )
    record = None if row[_RECORD] is None else RosterRecord(*row[_RECORD:_MARKER])
    first, last = row[_MARKER:_COUNTS]
    name = f"{first or ''} {last or ''}".strip() or None
    return RosterRow(student, record, name)


def session_roster(*, actor: User, session_id: uuid.UUID) -> Roster:
    """The roster page's data: session, statistics, rows and mini-histories (four queries).

    Raises NotFound, Forbidden.
    """
    session = get_session_for(actor, session_id)
    return Roster(
        session, session_statistics(session), roster_rows(session), mini_histories(session)
    )


def roster_row(session: ClassSession, student_id: uuid.UUID) -> RosterRow | None:
    rows = roster_rows(session, [student_id])
    return rows[0] if rows else None


@dataclass(frozen=True)
class Tile:
    """What a tap (or any action on one tile) answers with: the student's roster line, the
    session's statistics and the student's mini-history."""

    row: RosterRow
    statistics: SessionStatistics
    history: MiniHistory


def tile(session: ClassSession, student_id: uuid.UUID) -> Tile | None:
    """The student's tile as the server has it now (None: not on this roster), in one
    statement: the roster line with the session's counts, the student's alert reason and
    mini-history (a row for each recent session, the line repeated). Were four (the line,
    the counts, the history, the alerts): the reads after a tap's commit were over a quarter
    of its time."""
    params = _history_window(session)
    params["student_id"] = student_id
    rows: Any = execute_core(_TILE, params).all()
    if not rows:
        return None
    found = rows[0]
    recent = [row[_RECENT_STATUS] for row in rows if row[_RECENT_STATUS] is not None]
    return Tile(
        _roster_row(found),
        statistics_from_counts(found[_COUNTS:_REASON]),
        MiniHistory(recent, found[_ABSENCES] or 0, found[_REASON] or ""),
    )


@dataclass(frozen=True)
class MiniHistory:
    """A tile's memory of the student: their last sessions of this class (oldest first), how
    many of this class's sessions they missed this term, and why they are over the alert line
    in this class ("" if not), so the teacher taking the roll sees who needs a word."""

    recent: list[AttendanceStatus]
    absences_this_term: int
    alert: str = ""


def _recent_statement(for_students: bool) -> Any:
    """The mini-histories' windowed query, built once: the session, its class and the term's
    bounds bound as ``session_id``, ``class_id``, ``until`` and ``since``; ``for_students``
    adds ``student_ids`` (expanding)."""
    ranked = (
        select(
            Attendance.student_id,
            Attendance.status,
            ClassSession.start_time,
            func.row_number()
            .over(partition_by=Attendance.student_id, order_by=_newest_first(ClassSession))
            .label("n"),
        )
        .join(ClassSession, ClassSession.id == Attendance.session_id)
        .where(
            *_in_window(ClassSession),
            *(
                [Attendance.student_id.in_(bindparam("student_ids", expanding=True))]
                if for_students
                else []
            ),
        )
        .subquery()
    )
    return select(ranked.c.student_id, ranked.c.status, ranked.c.n).order_by(
        ranked.c.student_id, ranked.c.n.desc()
    )


#: ``mini_histories``' two statements (the whole roster; some students), built once.
_RECENT = _recent_statement(for_students=False)
_RECENT_OF_STUDENTS = _recent_statement(for_students=True)


def _history_window(session: ClassSession) -> dict[str, Any]:
    """The mini-histories' parameters: the session, its class and the term before it (one
    place for the window :func:`mini_histories` and a tile read)."""
    until = session.start_time or utcnow()
    return {
        "class_id": session.class_id,
        "session_id": session.id,
        "until": until,
        "since": until - timedelta(days=TERM_DAYS),
    }


def mini_histories(
    session: ClassSession,
    student_ids: list[uuid.UUID] | None = None,
    *,
    alerts: dict[uuid.UUID, str] | None = None,
) -> dict[uuid.UUID, MiniHistory]:
    """Every roster student's mini-history, in two queries (a windowed one, and the class's
    alerts) whatever the class size; one when the caller has read the ``alerts`` already."""
    params = _history_window(session)
    if student_ids is not None:
        params["student_ids"] = student_ids
    stmt = _RECENT if student_ids is None else _RECENT_OF_STUDENTS
    rows = execute_core(stmt, params)  # as ``roster_rows``
    recent: dict[uuid.UUID, list[AttendanceStatus]] = {}
    absences: dict[uuid.UUID, int] = {}
    for student_id, status, n in rows:
        if status == AttendanceStatus.ABSENT:
            absences[student_id] = absences.get(student_id, 0) + 1
        if n <= RECENT_SESSIONS:
            recent.setdefault(student_id, []).append(status)
    if alerts is None:
        alerts = alert_reasons(session.class_id, student_ids)
    return {
        sid: MiniHistory(recent.get(sid, []), absences.get(sid, 0), alerts.get(sid, ""))
        for sid in set(recent) | set(absences) | set(alerts)
    }
