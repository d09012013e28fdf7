"""Alerts, decided inside the transaction of the mark that causes them.

The alert line, per student and class: high risk (the contract's thresholds) or at least
``ALERT_ABSENCE_STREAK`` (default 3) absences in a row in that class. A change that takes a
student over the line notifies the class's teacher and every admin, once: an
:class:`AlertState` row stands while the student stays over it. A change that brings the
student back removes the row (the next crossing notifies again); if that change is in the
same session that raised the alert, it was a correction made in class, and the alert is
withdrawn (with any email not yet sent).

Students hear nothing during class: when a session ends (and locks), each student marked
ABSENT or LATE in it gets one notice, so taps corrected during the lesson never reach them.
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from operator import attrgetter
from typing import Any, NamedTuple, cast

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    select,
    update,
)

from attendance_app.extensions import db
from attendance_app.models import (
    AlertState,
    Attendance,
    AttendanceStatus,
    ClassSession,
    Notification,
    NotificationKind,
    SchoolClass,
    SessionStatus,
    Student,
    User,
    utcnow,
)
from attendance_app.services import events
from attendance_app.services.clock import spoken
from attendance_app.services.dialect import UuidList, in_uuids, insert, uuid_hex
from attendance_app.services.notifying import notifications
from attendance_app.services.notifying.notifications import Message, Recipient
from attendance_app.services.reporting.analytics import (
    class_codes_statement,
    codes_of_tokens,
    counts_of,
    counts_of_codes,
)
from attendance_app.services.reporting.risk import (
    RISK_HIGH,
    SETTINGS,
    Counts,
    Figures,
    Thresholds,
    figures,
)
from attendance_app.services.transaction import execute_core, kept


@dataclass(frozen=True)
class AlertLine:
    """The settings that place the line: ``ALERT_ABSENCE_STREAK`` and ``ALERT_MIN_SESSIONS``."""

    thresholds: Thresholds
    streak: int = 3
    min_sessions: int = 3

    @classmethod
    def from_config(cls) -> AlertLine:
        """The current app's line, built once per distinct set of its settings' values (a
        test or an operator may change them at run time): built on every write, it was ~70
        Python calls of each."""
        values = tuple(map(current_app.config.get, _LINE_SETTINGS))
        try:
            return _line_of(values)
        except TypeError:  # a value that cannot be a key: built as it is
            return cls._build()

    @classmethod
    def _build(cls) -> AlertLine:
        config = current_app.config
        return cls(
            thresholds=Thresholds.from_config(),
            streak=max(1, int(config.get("ALERT_ABSENCE_STREAK", 3))),
            min_sessions=max(1, int(config.get("ALERT_MIN_SESSIONS", 3))),
        )

    def is_high(self, fig: Figures) -> bool:
        """High risk, counted once the student has enough records for a rate to mean
        something (one absence on the first day is a 0% rate, not yet a pattern); a run of
        absences high enough for high risk counts at once."""
        if fig.risk_level != RISK_HIGH:
            return False
        return (
            fig.total_sessions >= self.min_sessions
            or fig.consecutive_absences >= self.thresholds.high_risk_absences
        )

    def reason(self, fig: Figures) -> str:
        """Why the student is over the line ("" when they are not)."""
        if self.is_high(fig):
            return fig.risk_reason
        if fig.consecutive_absences >= self.streak:
            return f"{fig.consecutive_absences} absences in a row (alert at {self.streak})"
        return ""

    def title(self, student: Student, fig: Figures, school_class: SchoolClass) -> str:
        name = student.user.full_name
        if self.is_high(fig):
            return f"{name} is at high risk in {school_class.name}"
        missed = fig.consecutive_absences
        return f"{name} has missed {missed} sessions in a row in {school_class.name}"


#: What ``AlertLine.from_config`` reads: the risk thresholds' settings and its own two.
_LINE_SETTINGS = (*SETTINGS.values(), "ALERT_ABSENCE_STREAK", "ALERT_MIN_SESSIONS")


@functools.lru_cache(maxsize=16)
def _line_of(values: tuple[Any, ...]) -> AlertLine:
    """The line of the current app's settings, whose values are ``values`` (the cache key)."""
    return AlertLine._build()


#: The statuses the alert line cannot tell apart: both attend. A record's change between them
#: (or to the same status, or of its notes only) leaves every figure the line reads as it was:
#: the attendance rate counts PRESENT + LATE; a run of absences and its end look only at
#: ABSENT (and at excused absences, which neither status is); high risk reads the rate and the
#: run; the streak alert reads the run. Only the late rate and the excused count move (a LATE
#: record's excuse ends with a change to PRESENT), and no alert reads either: they are medium
#: risk's or the pages'.
ATTENDED_ALIKE = frozenset({AttendanceStatus.PRESENT, AttendanceStatus.LATE})


def cannot_cross(old: AttendanceStatus, new: AttendanceStatus | None) -> bool:
    """True when changing a record from ``old`` to ``new`` (None: status unchanged) provably
    changes no student's place against the alert line, nor the reason an alert gives: the
    check can be skipped (``AttendanceChanged.alert_neutral``)."""
    return new is None or new == old or {old, new} <= ATTENDED_ALIKE


def on_events(batch: list[events.DomainEvent]) -> None:
    """The in-transaction handler: evaluate the students whose records changed, then send
    the end-of-session notices of sessions that ended."""
    changed: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)  # session → students
    excused: set[uuid.UUID] = set()
    record_ids: list[uuid.UUID] = []
    ended: list[uuid.UUID] = []
    for event in batch:
        if isinstance(event, events.AttendanceChanged):
            if event.alert_neutral:
                continue  # no figure the line reads has changed (``cannot_cross``)
            changed[event.session_id].update(event.removed_student_ids)
            if len(event.student_ids) == len(event.record_ids):
                changed[event.session_id].update(event.student_ids)
            else:
                record_ids.extend(event.record_ids)
            excused.update(event.excused_student_ids)
        elif isinstance(event, events.SessionStatusChanged) and event.status == "ENDED":
            ended.append(event.session_id)
    if record_ids:
        rows = db.session.execute(
            select(Attendance.session_id, Attendance.student_id).where(
                Attendance.id.in_(record_ids)
            )
        )
        for session_id, student_id in rows:
            changed[session_id].add(student_id)
    for session_id, student_ids in changed.items():
        if student_ids:
            evaluate(
                # The session the change read (built from columns), else the identity map's.
                kept(ClassSession, session_id) or db.session.get_one(ClassSession, session_id),
                sorted(student_ids, key=_uuid_order),
                excused=excused & student_ids,
            )
    for session_id in ended:
        send_session_notices(db.session.get_one(ClassSession, session_id))


class _Standing(NamedTuple):
    """A student's alert state row, as the alert check reads it (columns, not an entity)."""

    student_id: uuid.UUID
    session_id: uuid.UUID | None
    reason: str


#: UUIDs' own order (``UUID.__lt__`` compares ``int``), as a key: a C comparison per pair
#: instead of a Python call.
_uuid_order = attrgetter("int")


#: The alert check's one query (``evaluate``), built once: per student, their records in the
#: class as ``analytics.class_codes_statement``'s tokens, which ``analytics.counts_of_codes``
#: turns into ``counts_statement``'s aggregates (NULL when they have no record in a started
#: session of it), and their alert state there (NULLs when they are under the line).
#: Table columns only: the rows come back as tuples, with no ORM entity made per check.
_STATES = cast(Table, AlertState.__table__)
_STUDENTS = cast(Table, Student.__table__)


def _counts_and_states(*, ids_inline: bool, ordered: bool, one: bool = False) -> Select[Any]:
    """The alert check's query; with ``ids_inline`` its students are written into the SQL
    text (``literal_execute``) instead of bound one parameter each, as one array of them
    (``dialect.in_uuids`` of a ``UuidList``): written one by one, 500 ids were ~2,500 Python
    calls of SQLAlchemy's literal rendering, and 500 constants for the database to parse;
    ``ordered``: the database orders each student's codes
    (``analytics.class_codes_statement``); ``one``: of one student (``student_id``), bound as
    a plain parameter, so its text is final and each check skips the expanding list's
    rendering (~90 Python calls of every single write)."""

    def students(column: ColumnElement[Any]) -> ColumnElement[bool]:
        if one:
            return column == bindparam("student_id", type_=_STUDENTS.c.id.type)
        if ids_inline:
            return in_uuids(
                column, bindparam("student_ids", type_=UuidList(), literal_execute=True)
            )
        return column.in_(bindparam("student_ids", expanding=True))

    per_student = class_codes_statement(bindparam("class_id"), students, ordered=ordered)
    codes = per_student.subquery("codes")
    return (
        select(
            uuid_hex(_STUDENTS.c.id),
            codes.c[1],
            _STATES.c.student_id,
            _STATES.c.session_id,
            _STATES.c.reason,
        )
        .outerjoin(codes, codes.c.student_id == _STUDENTS.c.id)
        .outerjoin(
            _STATES,
            and_(
                _STATES.c.student_id == _STUDENTS.c.id,
                _STATES.c.class_id == bindparam("class_id"),
            ),
        )
        .where(students(_STUDENTS.c.id))
    )


# Many students are an array written into the text, not a parameter: once psycopg prepares
# the statement, PostgreSQL's generic plan takes an ``unnest`` of a parameter (or ``= ANY`` of
# one array parameter) for 10 rows and joined 500 students to their figures by a nested loop
# (2.5× the query's time; the array parameter's took seconds). A bound IN of many students is
# a thousand parameters for SQLAlchemy and psycopg, and a generic plan tests them one by one
# on every record (``ANY(ARRAY[$13, …])`` is not hashed); written into the text, the ids are
# one constant array PostgreSQL counts (``unnest``'s planner support), hashes and plans for.
# For a few students (a single mark, a small class) the bound list is cheaper: one prepared
# statement, no planning per check.
#: {(ids inline, ordered): the statement}.
_COUNTS_AND_STATES = {
    (inline, ordered): _counts_and_states(ids_inline=inline, ordered=ordered)
    for inline in (False, True)
    for ordered in (False, True)
}
#: {ordered: the statement of one student} (a single mark, a PATCH, a tap).
_COUNTS_AND_STATES_OF_ONE = {
    ordered: _counts_and_states(ids_inline=False, ordered=ordered, one=True)
    for ordered in (False, True)
}
#: From how many students the alert check writes their ids into its SQL (measured on
#: PostgreSQL: the bound list is cheaper for 10, the inline one from ~35 to 100 on).
INLINE_IDS_FROM = 50
#: A standing alert's new reason (still over the line, for another reason).
_NEW_REASON = (
    update(_STATES)
    .where(
        _STATES.c.student_id == bindparam("state_student_id"),
        _STATES.c.class_id == bindparam("state_class_id"),
    )
    .values(reason=bindparam("new_reason"))
)


def _counts_and_states_of(
    class_id: uuid.UUID, student_ids: list[uuid.UUID], hexes: list[str], ordered: bool
) -> tuple[Select[Any], dict[str, Any]]:
    """The alert check's statement for ``student_ids`` (``hexes``: the same as
    ``UUID.hex``, which the inline array is written from) and its parameters."""
    if len(student_ids) == 1:
        return _COUNTS_AND_STATES_OF_ONE[ordered], {
            "class_id": class_id,
            "student_id": student_ids[0],
        }
    if len(student_ids) >= INLINE_IDS_FROM:
        return _COUNTS_AND_STATES[True, ordered], {"class_id": class_id, "student_ids": hexes}
    return _COUNTS_AND_STATES[False, ordered], {"class_id": class_id, "student_ids": student_ids}


def evaluate(
    session: ClassSession,
    student_ids: list[uuid.UUID],
    *,
    excused: set[uuid.UUID] | frozenset[uuid.UUID] = frozenset(),
) -> None:
    """Compare each student's figures in the session's class with the alert line; notify on
    a crossing, re-arm (or withdraw a same-session alert) on a return. An excuse that brings
    a student back (``excused``: their absences no longer make a run) withdraws the alert
    whichever session raised it, as a correction does. A fixed number of queries, whatever the
    number of students."""
    school_class = session.school_class
    line = AlertLine.from_config()
    window = line.thresholds.trend_window
    # The students as hex digits (as the rows name them), the keys of what is read: a
    # string's hash is C, a UUID's a Python call (three per student here).
    hexes = [student_id.hex for student_id in student_ids]
    aggregates_of: dict[str, tuple[Any, ...]] = {}
    of_codes: dict[str, tuple[Any, ...]] = {}
    states: dict[str, _Standing] = {}
    # On the transaction's connection (``transaction.execute_core``), not through the
    # Session: the statement's columns are ORM attributes, and the Session's execution of it
    # (an ORM query's compile state and row loader, for plain columns) was a third of a
    # single mark's alert check.
    # PostgreSQL orders each student's codes in its aggregate; SQLite (before 3.44) cannot.
    ordered = db.engine.dialect.name == "postgresql"
    # The students come back as hex digits, matched to those in hand (no UUID made per row).
    for (
        student_hex,
        codes,
        state_student_id,
        state_session_id,
        state_reason,
    ) in execute_core(*_counts_and_states_of(school_class.id, student_ids, hexes, ordered)).all():
        if codes is not None:  # None: no record in a started session of the class
            # A pure function of the text, which a class's students share often.
            if (aggregates := of_codes.get(codes)) is None:
                aggregates = of_codes[codes] = counts_of_codes(
                    codes if ordered else codes_of_tokens(codes), window
                )
            aggregates_of[student_hex] = aggregates
        if state_student_id is not None:
            states[student_hex] = _Standing(state_student_id, state_session_id, state_reason)
    crossed: list[tuple[uuid.UUID, Figures, str]] = []
    cleared: list[_Standing] = []
    # What each student's alert state says once this check has written it (by hex digits):
    # noted for the live broadcast, which then reads no flag back (``events.note_alert_reasons``).
    outcome: dict[str, str] = {}
    # Figures are a pure function of the aggregates, and a class's students share few
    # combinations of them: each is worked out once (500 students were 500 classifications).
    judged: dict[tuple[Any, ...], tuple[Figures, str]] = {}
    for student_id, student_hex in zip(student_ids, hexes, strict=True):
        key = aggregates_of.get(student_hex, ())
        if (known := judged.get(key)) is None:
            fig = figures(counts_of(key) if key else Counts(), line.thresholds)
            known = judged[key] = (fig, line.reason(fig))
        fig, reason = known
        outcome[student_hex] = reason
        state = states.get(student_hex)
        if reason and state is None:
            crossed.append((student_id, fig, reason))
        elif not reason and state is not None:
            cleared.append(state)
        elif state is not None and state.reason != reason:
            # Still over the line, for a new reason (a longer run, a lower rate): the tile and
            # the weekly summary say what is true now; nobody is notified again.
            db.session.execute(
                _NEW_REASON,
                {
                    "state_student_id": student_id,
                    "state_class_id": school_class.id,
                    "new_reason": reason,
                },
            )
    if cleared:
        _clear(session, cleared, excused)
    if crossed:
        raised = _raise(session, crossed, line)
        for student_id, _, _ in crossed:
            if student_id not in raised:  # a concurrent change raised it, with its reason
                del outcome[student_id.hex]
    events.note_alert_reasons(db.session, school_class.id, outcome)


def _clear(
    session: ClassSession, cleared: list[_Standing], excused: set[uuid.UUID] | frozenset[uuid.UUID]
) -> None:
    # Withdrawn: a correction in the session that raised the alert, or an excuse (the run
    # that raised it was excused, wherever it was raised); otherwise only re-armed.
    withdrawn = [s for s in cleared if s.session_id == session.id or s.student_id in excused]
    db.session.execute(
        delete(_STATES).where(
            _STATES.c.class_id == session.class_id,
            _STATES.c.student_id.in_([s.student_id for s in cleared]),
        )
    )
    by_session: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for state in withdrawn:
        if state.session_id is not None:  # a session since deleted has no alert to withdraw
            by_session[state.session_id].append(state.student_id)
    for raised_in, student_ids in by_session.items():
        notifications.withdraw(
            [
                Notification.kind == NotificationKind.ALERT,
                Notification.class_id == session.class_id,
                Notification.session_id == raised_in,
                Notification.student_id.in_(student_ids),
            ]
        )


def _raise(
    session: ClassSession, crossed: list[tuple[uuid.UUID, Figures, str]], line: AlertLine
) -> set[uuid.UUID]:
    """Raise the alerts of the students who crossed (their state rows, their notifications);
    the students whose state this made (not those a concurrent change raised first)."""
    school_class = session.school_class
    now = utcnow()
    # ON CONFLICT DO NOTHING: if a concurrent mark (another session of the class) raised the
    # same student's alert first, that one notifies and this mark still succeeds.
    table = AlertState.__table__
    raised = set(
        db.session.execute(
            insert(table)
            .on_conflict_do_nothing(index_elements=["student_id", "class_id"])
            .returning(table.c.student_id),
            [
                {
                    "student_id": student_id,
                    "class_id": school_class.id,
                    "session_id": session.id,
                    "reason": reason,
                    "since": now,
                }
                for student_id, _, reason in crossed
            ],
        ).scalars()
    )
    crossed = [c for c in crossed if c[0] in raised]
    if not crossed:
        return raised
    students = {
        s.id: s
        for s in db.session.scalars(
            select(Student).where(Student.id.in_([sid for sid, _, _ in crossed]))
        )
    }
    # By id: a class built for a change holds its teacher's ids (``sessions.session_from_row``).
    teacher = db.session.get_one(User, school_class.teacher.user_id)
    recipients = {r.user_id: r for r in notifications.admins()}
    if teacher.is_active:
        recipients[teacher.id] = Recipient(teacher.id, teacher.email)
    deliveries: list[tuple[Recipient, Message]] = []
    for student_id, fig, reason in crossed:
        message = Message(
            kind=NotificationKind.ALERT,
            title=line.title(students[student_id], fig, school_class),
            body=f"{school_class.name}: {reason}.",
            student_id=student_id,
            class_id=school_class.id,
            session_id=session.id,
            link=notifications.history_path(student_id),
        )
        deliveries.extend((r, message) for r in recipients.values())
    delay = timedelta(seconds=int(current_app.config.get("MAIL_ALERT_DELAY_SECONDS", 300)))
    notifications.deliver(deliveries, email_delay=delay)
    return raised


#: ``alert_reasons``' two statements (the whole class; some students), built once.
_REASONS = select(_STATES.c.student_id, _STATES.c.reason).where(
    _STATES.c.class_id == bindparam("class_id")
)
_REASONS_OF_STUDENTS = _REASONS.where(
    _STATES.c.student_id.in_(bindparam("student_ids", expanding=True))
)


def alert_reasons(
    class_id: uuid.UUID, student_ids: list[uuid.UUID] | None = None
) -> dict[uuid.UUID, str]:
    """{student id: why they are over the alert line in the class} for those who are (among
    ``student_ids``, or the whole class). One query."""
    if student_ids is None:
        return dict(db.session.execute(_REASONS, {"class_id": class_id}).all())
    if not student_ids:
        return {}
    return dict(
        db.session.execute(
            _REASONS_OF_STUDENTS, {"class_id": class_id, "student_ids": student_ids}
        ).all()
    )


# --- end of session --------------------------------------------------------------------------

STATUS_WORDS = {AttendanceStatus.ABSENT: "absent", AttendanceStatus.LATE: "late"}


def send_session_notices(session: ClassSession) -> None:
    """One notice per student marked ABSENT or LATE in a session that has ended (idempotent:
    the dedupe key is the session's)."""
    if session is None or session.status != SessionStatus.ENDED:
        return
    rows = db.session.execute(
        select(Attendance, Student.id, User.id, User.email)
        .join(Student, Student.id == Attendance.student_id)
        .join(User, User.id == Student.user_id)
        .where(
            Attendance.session_id == session.id,
            Attendance.status.in_(tuple(STATUS_WORDS)),
            User.is_active.is_(True),
        )
    ).all()
    school_class = session.school_class
    when = spoken(session.start_time) if session.start_time else ""
    deliveries = []
    for record, student_id, user_id, email in rows:
        word = STATUS_WORDS[record.status]
        minutes = record.minutes_late(session.start_time)
        detail = f" ({minutes} min)" if minutes else ""
        title = f"You were marked {word}{detail} in {school_class.name}"
        body = (
            f"{school_class.name}, {when}: marked {word}{detail}."
            " If this is wrong, speak to your teacher."
        )
        deliveries.append(
            (
                Recipient(user_id, email),
                Message(
                    kind=NotificationKind.DIGEST,
                    title=title,
                    body=body,
                    student_id=student_id,
                    class_id=school_class.id,
                    session_id=session.id,
                    dedupe_key=f"notice:{session.id}",
                    link=notifications.history_path(student_id),
                ),
            )
        )
    notifications.deliver(deliveries, at=session.end_time)
