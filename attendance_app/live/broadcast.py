"""Committed domain events → ``statistics`` / ``attendance`` / ``session`` / ``notifications``
broadcasts.

The only module that emits. Runs after the commit (services/events.py), reads the committed
state in one short read per event, and emits once per operation — a bulk action of 30 rows is
one ``attendance`` event with 30 records. The statistics are read just before the commit,
inside the transaction (``events.subscribe_with_read``): exactly what it commits, on its own
connection, without a new transaction after it, so the first broadcast leaves as soon as the
commit has returned. With ``SOCKETIO_MESSAGE_QUEUE`` set, every emit goes
through the queue and reaches clients of every server process (and the CLI can emit too).
"""

from __future__ import annotations

import uuid
from operator import attrgetter
from typing import NamedTuple

from flask import current_app

from attendance_app.extensions import db, socketio
from attendance_app.live import ADMINS_ROOM, connections, room_for, user_room
from attendance_app.models.base import AttendanceStatus, iso
from attendance_app.services.events import (
    AttendanceChanged,
    ClassTeacherChanged,
    DomainEvent,
    FirstMarks,
    KnownChange,
    NotificationsChanged,
    SessionStatusChanged,
    TokensRevoked,
    UserSignedOut,
    alert_reasons_noted,
    statistics_noted,
)
from attendance_app.services.marking.check_in import is_checked_in
from attendance_app.services.marking.sessions import class_session_ids
from attendance_app.services.notifying.alerts import alert_reasons
from attendance_app.services.notifying.notifications import unread_counts
from attendance_app.services.reporting.changed_records import ChangedRecord, changed_records
from attendance_app.services.reporting.statistics import (
    SessionStatistics,
    statistics_for_sessions,
    student_numbers,
)


def record_payload(row: ChangedRecord) -> dict:
    """A changed record as the ``attendance`` broadcast sends it (what a tile shows)."""
    return {
        "id": str(row.id),
        "student": {"id": str(row.student_id), "student_id": row.student_number},
        "status": row.status.value,
        "notes": row.notes,
        "excused": row.absence_reason is not None,
        "absence_reason": row.absence_reason.value if row.absence_reason else None,
        "marked_at": iso(row.marked_at),
        "updated_at": iso(row.updated_at),
        "marked_by": row.marked_by_name,
        # The student checked themself in (the tile says "Checked in", not their name). The
        # row is both the record (its marker) and the student (their user).
        "checked_in": is_checked_in(row, row),  # type: ignore[arg-type]
        "version": row.version,
        "late_minutes": row.late_minutes,
        # Why the student is over the alert line in this class ("" if not): the tile's flag.
        "alert": row.alert or "",
    }


def _anyone_listening(room: str) -> bool:
    """False only when we know nobody can receive: one process and an empty room. With a
    message queue, listeners may sit on any process, so we always emit."""
    server = socketio.server
    if server is None:
        return False
    if current_app.config["SOCKETIO_MESSAGE_QUEUE"]:
        return True
    return bool(server.manager.rooms.get("/", {}).get(room))


def _watched(event: DomainEvent) -> bool:
    """A session's change someone may be watching (its room's or the admins')."""
    return isinstance(event, AttendanceChanged | SessionStatusChanged) and (
        _anyone_listening(room_for(event.session_id)) or _anyone_listening(ADMINS_ROOM)
    )


class BeforeCommit(NamedTuple):
    """What the broadcast learns inside the transaction, just before it commits."""

    #: The watched sessions' statistics, as committed.
    statistics: dict[uuid.UUID, SessionStatistics]
    #: The alert check's decisions (``events.alert_reasons_noted``): {class id: {student id
    #: as hex digits: alert reason or ""}}.
    alerts: dict[uuid.UUID, dict[str, str]]


def statistics_before_commit(events: list[DomainEvent]) -> BeforeCommit:
    """The statistics of the watched sessions the events touch, read inside their transaction
    just before it commits (after every write of it, alerts included): one query, on the
    transaction's connection. Changes to one session are serialised until the commit (its row
    lock; SQLite's one writer), so these are the figures as committed. And what the alert
    check decided meanwhile, which flags a record the writer holds without a read after the
    commit."""
    ids = list({event.session_id for event in events if _watched(event)})  # type: ignore[union-attr]
    if not ids:
        return BeforeCommit({}, {})
    # A session whose statistics the change's own read noted (a tap's tile) is not counted again.
    noted = statistics_noted(db.session)
    stats = {id_: noted[id_] for id_ in ids if id_ in noted}
    counted = [id_ for id_ in ids if id_ not in noted]
    if counted:
        stats.update(statistics_for_sessions(counted))
    return BeforeCommit(stats, dict(alert_reasons_noted(db.session)))


def on_committed(events: list[DomainEvent], before: BeforeCommit | None = None) -> None:
    """Broadcast a commit's events. The statistics of every session they touch (read before
    the commit, ``statistics_before_commit``; after it, in one query, for a session that
    gained a listener meanwhile or a commit that was not a unit of work's) go out first: a
    listener's counter moves as soon as the commit is in. Then the records known without a
    read (a single first mark's or change's, whose flag is known: ``_known_records``) at once,
    before the sockets' writers are let run, then those read back after the commit, events
    in order."""
    session_events: list[AttendanceChanged | SessionStatusChanged] = []
    for event in events:
        if isinstance(event, UserSignedOut):
            _sign_out(event)
        elif isinstance(event, NotificationsChanged):
            _bells(event)
        elif isinstance(event, TokensRevoked):
            _tokens_revoked(event)
        elif isinstance(event, ClassTeacherChanged):
            _teacher_changed(event)
        elif _watched(event):
            session_events.append(event)  # type: ignore[arg-type]
        # else: e.g. the CLI's demo load, hundreds of changes nobody is watching
    if not session_events:
        return
    stats = dict(before.statistics) if before else {}
    alerts = before.alerts if before else {}
    unread = list({event.session_id for event in session_events} - stats.keys())
    if unread:
        stats.update(statistics_for_sessions(unread))
    for event in session_events:
        if event.session_id in stats:
            socketio.emit(
                "statistics",
                {
                    "session_id": str(event.session_id),
                    "statistics": stats[event.session_id].as_dict(),
                    "seq": event.seq,
                },
                to=[room_for(event.session_id), ADMINS_ROOM],  # an admin in both: once
            )
    # Records known without a read (a single first mark's or change's) go right behind their
    # statistics, as long as no event before them needs a read: the order of events is kept.
    done = 0
    for event in session_events:
        if not isinstance(event, AttendanceChanged):
            break
        known = _known_records(event, alerts)
        if known is None:
            break
        _emit_records(event, known)
        done += 1
    # Let the green threads that write to the sockets send those frames now, rather than
    # after the reads below (SQLite's never yield) and the rest of the request.
    socketio.sleep(0)
    for event in session_events[done:]:
        if isinstance(event, AttendanceChanged):
            _records(event, alerts)
        else:
            socketio.emit(
                "session",
                {
                    "session_id": str(event.session_id),
                    "status": event.status,
                    "is_locked": event.is_locked,
                    "seq": event.seq,
                },
                to=[room_for(event.session_id), ADMINS_ROOM],
            )


def first_marks_payloads(
    marks: FirstMarks, flags: dict[uuid.UUID, str] | None = None
) -> list[dict]:
    """:func:`record_payload` of first marks whose writer held every column (a bulk mark),
    without reading them back, in the order a read gives them (newest ``marked_at`` first,
    then by id: all share one time), their alert flags read (one query; the students' numbers
    too, in one, if the writer did not know them). What is the same for all (times, marker,
    version) is made once, and nothing per record runs Python of its own beyond the two ids'
    ``str``: ordered by the ids' integers (the order ``UUID.__lt__`` gives, which was ~7,600
    calls for 500 records), the status's string (a ``StrEnum``: its value)."""
    students = [m.student_id for m in marks.records]
    if flags is None:
        flags = alert_reasons(marks.class_id, students)
    numbers: dict[str, str] = {}
    if [m for m in marks.records if m.student_number is None]:
        numbers = student_numbers(students)  # one narrow query, not the records'
    at = iso(marks.marked_at)
    late_minutes = None
    if marks.session_start is not None:
        # Record.minutes_late of a first mark: late from its marking time.
        late_minutes = max(0, int((marks.marked_at - marks.session_start).total_seconds() // 60))
    return [
        {
            "id": str(mark.id),
            "student": {
                "id": str(mark.student_id),
                "student_id": numbers[mark.student_id.hex]
                if mark.student_number is None
                else mark.student_number,
            },
            "status": str(mark.status),
            "notes": mark.notes,
            "excused": False,
            "absence_reason": None,
            "marked_at": at,
            "updated_at": at,
            "marked_by": marks.marked_by_name,
            "checked_in": False,  # by someone marking others: the writer sends none by a student
            "version": 1,
            "late_minutes": late_minutes if mark.status == AttendanceStatus.LATE else None,
            "alert": flags.get(mark.student_id, "") if flags else "",
        }
        for mark in sorted(marks.records, key=_BY_ID)
    ]


#: A first mark's id as an integer: the records' order by id without a Python call per
#: comparison.
_BY_ID = attrgetter("id.int")


def _known_flags(
    marks: FirstMarks, alerts: dict[uuid.UUID, dict[str, str]]
) -> dict[uuid.UUID, str] | None:
    """The alert flags of a single first mark's student as the alert check decided them in
    its transaction (None: not decided there, e.g. a concurrent change raised the alert:
    read after the commit). A bulk mark's are read (one query; looking 500 students up
    here would cost a Python call each)."""
    decided = alerts.get(marks.class_id)
    if decided is None or len(marks.records) != 1:
        return None
    student_id = marks.records[0].student_id
    reason = decided.get(student_id.hex)
    return None if reason is None else {student_id: reason}


def _known_change_flag(
    event: AttendanceChanged, change: KnownChange, alerts: dict[uuid.UUID, dict[str, str]]
) -> str | None:
    """The alert flag of a changed record's student, when known without a read: what the
    alert check decided for them in the change's transaction (if it evaluated the class at
    all, its decision or nothing: a concurrent change raised the alert first), else for a
    change that runs no check (``alert_neutral``: it moves no alert) their reason as read
    with the record in the transaction by the database's one writer (``change.alert``).
    None: read after the commit."""
    decided = alerts.get(change.class_id)
    if decided is not None:
        return decided.get(change.record.student_id.hex)
    return change.alert if event.alert_neutral else None


def _known_records(
    event: AttendanceChanged, alerts: dict[uuid.UUID, dict[str, str]]
) -> list[dict] | None:
    """The event's record payloads when nothing needs reading (a single first mark, or a
    change of a marked record, whose student's alert flag is known), else None."""
    change = event.known_change
    if change is not None:
        flag = _known_change_flag(event, change, alerts)
        return None if flag is None else [record_payload(change.record._replace(alert=flag))]
    if event.first_marks is None:
        return None
    flags = _known_flags(event.first_marks, alerts)
    return None if flags is None else first_marks_payloads(event.first_marks, flags)


def _records(event: AttendanceChanged, alerts: dict[uuid.UUID, dict[str, str]]) -> None:
    """The changed records, with their students' alert flags, to the session's room."""
    if event.first_marks is not None:
        records = first_marks_payloads(event.first_marks, _known_flags(event.first_marks, alerts))
    else:
        records = [record_payload(r) for r in changed_records(event.session_id, event.record_ids)]
    _emit_records(event, records)


def _emit_records(event: AttendanceChanged, records: list[dict]) -> None:
    """The ``attendance`` broadcast of ``records``, the event's records' payloads."""
    socketio.emit(
        "attendance",
        {
            "session_id": str(event.session_id),
            # A tuple, the same JSON array as a list, byte for byte (the standard library's
            # encoder writes both with one routine). With a message queue, python-socketio's
            # PubSubManager.emit searches every emitted payload for bytes with the base
            # Packet's data_is_binary (not our JsonPacket), a call per value of every nested
            # list and dict: ~43,000 calls for a bulk mark of 500, before any other process
            # hears it. That search descends into lists and dicts only.
            "records": tuple(records),
            # Students whose record an Undo removed: not marked again.
            "removed_students": [str(sid) for sid in event.removed_student_ids],
            "seq": event.seq,
        },
        to=room_for(event.session_id),
    )


def _bells(event: NotificationsChanged) -> None:
    """Each recipient's pages learn their new unread count (one query for all of them)."""
    listening = [uid for uid in event.user_ids if _anyone_listening(user_room(uid))]
    if not listening:
        return
    for user_id, unread in unread_counts(listening).items():
        socketio.emit("notifications", {"unread": unread}, to=user_room(user_id))


def _sign_out(event: UserSignedOut) -> None:
    """Tell the user's pages (every process) and drop this process's connections now; other
    processes drop theirs at their next sweep (connections.py) if a page does not leave."""
    if socketio.server is None:
        return
    socketio.emit("signed_out", {}, to=user_room(event.user_id))
    connections.disconnect_user(event.user_id)


def _tokens_revoked(event: TokensRevoked) -> None:
    """Connections opened with these tokens end now in this process; other processes end
    theirs at their next sweep (connections.py)."""
    if socketio.server is not None:
        connections.disconnect_tokens(set(event.token_ids))


def _teacher_changed(event: ClassTeacherChanged) -> None:
    """The class's former teacher leaves the rooms of its sessions at once, in every process:
    presence knows their connections' ids, and leaving a room by id goes through the message
    queue to whichever process holds the connection."""
    if socketio.server is None:
        return
    # handlers import this module
    from attendance_app.live.handlers import announce_presence, presence

    old = str(event.old_teacher_user_id)
    for session_id in class_session_ids(event.class_id):
        sid_viewers = presence().viewer_sids(str(session_id))
        for sid, viewer in sid_viewers.items():
            if viewer.get("user_id") == old:
                socketio.server.leave_room(sid, room_for(session_id))
                if presence().remove(str(session_id), sid):
                    announce_presence(str(session_id))
