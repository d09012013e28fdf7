"""The roster of a session as a teacher sees it: every student with their record, if any."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select
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


def _roster_statement(for_students: bool, *, tile: bool = False) -> Any:
    """The roster query (``roster_rows``), built once: the session and its class bound as
    ``session_id`` and ``class_id``; ``for_students`` adds ``student_ids`` (expanding).
    ``tile`` adds, after the row's columns, the session's :func:`statistics.session_counts`
    and the student's alert reason (NULL: not over the line): a tap's answer in one read."""
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
    if for_students:
        stmt = stmt.where(Student.id.in_(bindparam("student_ids", expanding=True)))
    if tile:
        # The counts are correlated to ClassSession alone (not to this Attendance), so the one
        # session row joined here gives the whole session's figures beside the student's row.
        stmt = (
            stmt.add_columns(*session_counts(), AlertState.reason)
            .join(ClassSession, ClassSession.id == bindparam("session_id"))
            .outerjoin(
                AlertState,
                and_(
                    AlertState.class_id == bindparam("class_id"),
                    AlertState.student_id == Student.id,
                ),
            )
        )
    return stmt


#: ``roster_rows``' two statements (the whole roster; some students), built once: building
#: them per call (two aliases, a subquery, their cache keys) was most of a tap's answer.
_ROSTER = _roster_statement(for_students=False)
_ROSTER_OF_STUDENTS = _roster_statement(for_students=True)
_TILE = _roster_statement(for_students=True, tile=True)
#: Where a tile row's counts start, and its alert reason.
_COUNTS = _MARKER + 2
_REASON = -1


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
    """The student's tile as the server has it now (None: not on this roster), in two
    statements: the roster line with the session's counts and the student's alert reason,
    then the windowed history. Were four (the line, the counts, the history, the alerts):
    the reads after a tap's commit were over a quarter of its time."""
    params = {"session_id": session.id, "class_id": session.class_id, "student_ids": [student_id]}
    found: Any = execute_core(_TILE, params).first()
    if found is None:
        return None
    alert = found[_REASON]
    history = mini_histories(session, [student_id], alerts={student_id: alert} if alert else {})
    return Tile(
        _roster_row(found),
        statistics_from_counts(found[_COUNTS:_REASON]),
        history.get(student_id) or MiniHistory([], 0),
    )


#: How far back "absences this term" looks.
TERM_DAYS = 120
#: How many earlier sessions of the class each tile shows.
RECENT_SESSIONS = 5


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
            .over(
                partition_by=Attendance.student_id,
                order_by=(ClassSession.start_time.desc(), ClassSession.id.desc()),
            )
            .label("n"),
        )
        .join(ClassSession, ClassSession.id == Attendance.session_id)
        .where(
            ClassSession.class_id == bindparam("class_id"),
            ClassSession.id != bindparam("session_id"),
            ClassSession.start_time.is_not(None),
            ClassSession.start_time <= bindparam("until"),
            ClassSession.start_time >= bindparam("since"),
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


def mini_histories(
    session: ClassSession,
    student_ids: list[uuid.UUID] | None = None,
    *,
    alerts: dict[uuid.UUID, str] | None = None,
) -> dict[uuid.UUID, MiniHistory]:
    """Every roster student's mini-history, in two queries (a windowed one, and the class's
    alerts) whatever the class size; one when the caller has read the ``alerts`` already."""
    until = session.start_time or utcnow()
    params: dict[str, Any] = {
        "class_id": session.class_id,
        "session_id": session.id,
        "until": until,
        "since": until - timedelta(days=TERM_DAYS),
    }
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
