"""Property-based tests of the service layer (hypothesis). Any sequence of marks, updates,
bulk marks, "mark all unmarked", roster taps and their Undo by the people allowed to make
them leaves

- the session's statistics equal to the counts recomputed from its records,
- one record per student at most (rule 2), whatever the order and who acted,
- an audit trail with exactly one row per change the services reported,
- the records equal to a plain model of what each accepted call should have done.

Examples are bounded (``max_examples``, no deadline) for CI time; every example works on a
class and session of its own, built through the services.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from attendance_app.extensions import db
from attendance_app.models import Attendance, AttendanceChange, AttendanceStatus, Channel
from attendance_app.services.errors import Conflict, DomainError
from attendance_app.services.marking import attendance, bulk, undo
from attendance_app.services.marking import taps as taps_service
from attendance_app.services.marking.sessions import get_session_for
from attendance_app.services.reporting.statistics import session_statistics
from tests.factories import actor, make_admin, make_class, make_session, make_teacher

STUDENTS = 4
STATUSES = st.sampled_from(list(AttendanceStatus))
WHO = st.sampled_from(["teacher", "admin"])
STUDENT = st.integers(min_value=0, max_value=STUDENTS - 1)

OPERATIONS = st.one_of(
    st.tuples(st.just("mark"), WHO, STUDENT, STATUSES),
    st.tuples(st.just("update"), WHO, STUDENT, STATUSES),
    st.tuples(
        st.just("bulk"),
        WHO,
        st.lists(STUDENT, min_size=1, max_size=STUDENTS, unique=True),
        STATUSES,
    ),
    st.tuples(st.just("unmarked"), WHO, st.none(), STATUSES),
    st.tuples(st.just("tap"), WHO, STUDENT, STATUSES),
    # Undo the n-th last tap (as ``who``): allowed only if nothing changed its record since.
    st.tuples(st.just("undo"), WHO, st.integers(min_value=0, max_value=2), st.none()),
)

PROPERTY_SETTINGS = settings(
    # A longer hunt: PROPERTY_EXAMPLES=300 (CI keeps the default).
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "12")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Taps:
    """What the model knows about taps, for Undo: each tap's change, and the last change of
    each student's record (a tap's change id, or ``OTHER`` for any other change)."""

    done: list[tuple[object, int, str, AttendanceStatus | None]] = field(default_factory=list)
    last: dict[int, object] = field(default_factory=dict)


OTHER = object()


def _apply(op, people, session_id, students, model: dict, records: dict, taps=None) -> int:
    """Run one operation through the services; update the model; the changes it made."""
    kind, who, target, status = op
    user = actor(people[who])
    taps = taps if taps is not None else Taps()
    try:
        if kind == "tap":
            before = model.get(target)
            result = taps_service.set_status(
                actor=user,
                session_id=session_id,
                student_id=students[target],
                status=status,
                channel=Channel.WEB,
            )
            assert result.applied
            model[target] = status
            taps.done.append((result.change_id, target, who, before))
            taps.last[target] = result.change_id
            return 1
        if kind == "undo":
            if len(taps.done) <= target:
                return 0
            change_id, student, tapper, before = taps.done[-1 - target]
            may = taps.last.get(student) is change_id and (who == tapper or who == "admin")
            try:
                undo.undo_change(
                    actor=user, session_id=session_id, change_id=change_id, channel=Channel.WEB
                )
            except DomainError as err:
                assert not may, f"undo refused: {err.message}"
                assert err.status_code == 400
                return 0
            assert may, "an undo went through although the record changed since"
            if before is None:
                model.pop(student)
            else:
                model[student] = before
            taps.last[student] = OTHER
            return 1
        if kind == "mark":
            result = attendance.mark_attendance(
                actor=user,
                session_id=session_id,
                student_id=students[target],
                status=status,
                channel=Channel.API,
            )
            records[target] = result.row.record.id
            model[target] = status
            taps.last[target] = OTHER
            return 1
        if kind == "update":
            if target not in records:
                return 0  # nothing to update: the API would answer 404 before anything
            attendance.update_attendance(
                actor=user, attendance_id=records[target], status=status, channel=Channel.API
            )
            model[target] = status
            taps.last[target] = OTHER
            return 1
        if kind == "bulk":
            result = bulk.mark_records(
                actor=user,
                session_id=session_id,
                entries=[attendance.MarkEntry(students[i], status) for i in target],
                channel=Channel.API,
            )
            for i, row in zip(target, result.records, strict=True):
                records[i] = row.id
                model[i] = status
                taps.last[i] = OTHER
            return len(target)
        result = bulk.mark_unmarked(
            actor=user, session_id=session_id, default_status=status, channel=Channel.API
        )
        unmarked = [i for i in range(len(students)) if i not in model]
        for i in unmarked:
            model[i] = status
            taps.last[i] = OTHER
        assert result.count == len(unmarked)
        return result.count
    except Conflict:
        # Rule 2: a second mark of a marked student, or a bulk naming one; all or nothing.
        assert kind in ("mark", "bulk")
        assert (target if kind == "bulk" else [target]) and any(
            i in model for i in (target if kind == "bulk" else [target])
        )
        return 0
    finally:
        db.session.remove()
        _resync(records, session_id, students)


def _resync(records: dict, session_id, students) -> None:
    rows = db.session.execute(
        select(Attendance.student_id, Attendance.id).where(Attendance.session_id == session_id)
    ).all()
    index = {sid: i for i, sid in enumerate(students)}
    records.clear()
    records.update({index[sid]: rid for sid, rid in rows})
    db.session.remove()


@PROPERTY_SETTINGS
@given(ops=st.lists(OPERATIONS, min_size=1, max_size=12))
def test_any_sequence_of_allowed_marking_keeps_statistics_records_and_audit_agreeing(app, ctx, ops):
    admin, teacher = make_admin(app), make_teacher(app)
    klass = make_class(app, admin=admin, teacher=teacher, students=STUDENTS)
    session_id = make_session(app, klass)
    students = [s.profile_id for s in klass.students]
    people = {"teacher": teacher.user_id, "admin": admin.user_id}
    model: dict[int, AttendanceStatus] = {}
    records: dict[int, object] = {}
    db.session.remove()  # no read transaction of an earlier example hides the new rows

    taps = Taps()
    changes = sum(_apply(op, people, session_id, students, model, records, taps) for op in ops)

    stored = db.session.execute(
        select(Attendance.student_id, Attendance.status).where(Attendance.session_id == session_id)
    ).all()
    assert len(stored) == len({sid for sid, _ in stored}), "a student has two records"
    assert {students.index(sid): status for sid, status in stored} == model
    counts = Counter(status for _, status in stored)
    stats = session_statistics(get_session_for(actor(admin.user_id), session_id))
    assert (stats.present, stats.absent, stats.late) == (
        counts[AttendanceStatus.PRESENT],
        counts[AttendanceStatus.ABSENT],
        counts[AttendanceStatus.LATE],
    )
    assert stats.total_enrolled == STUDENTS
    assert stats.not_marked == STUDENTS - len(stored)
    expected_rate = round((stats.present + stats.late) / STUDENTS * 100, 2)
    assert stats.attendance_rate == expected_rate
    audit = db.session.scalar(
        select(func.count())
        .select_from(AttendanceChange)
        .where(AttendanceChange.session_id == session_id)
    )
    assert audit == changes


@PROPERTY_SETTINGS
@given(ops=st.lists(OPERATIONS, min_size=1, max_size=6))
def test_a_teacher_of_another_class_changes_nothing_whatever_they_try(app, ctx, ops):
    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=STUDENTS)
    intruder = make_teacher(app)
    make_class(app, admin=admin, teacher=intruder, students=0)
    session_id = make_session(app, klass)
    students = [s.profile_id for s in klass.students]
    people = {"teacher": intruder.user_id, "admin": intruder.user_id}
    db.session.remove()

    for op in ops:
        try:
            _apply(op, people, session_id, students, {}, {})
        except DomainError as err:
            assert err.status_code == 403, err.message

    count = db.session.scalar(
        select(func.count()).select_from(Attendance).where(Attendance.session_id == session_id)
    )
    assert count == 0


# --- name search --------------------------------------------------------------------------

NAME_LETTERS = st.sampled_from([*list("abcdeéèñöüçßøåłzAÉÑÖZ"), "ﬁ", "İ"])
NAMES = st.text(NAME_LETTERS, min_size=1, max_size=8).map(str.strip).filter(bool)


def _strip_accents(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@PROPERTY_SETTINGS
@given(
    first=NAMES,
    last=NAMES,
    form=st.sampled_from(["{f} {l}", "{l} {f}", "{l}, {f}", "{l},{f}", "  {f}   {l} "]),
    case=st.sampled_from([str, str.upper, str.lower, str.casefold, _strip_accents]),
)
def test_a_person_is_found_by_their_name_in_every_form_case_and_accent(
    app, ctx, first, last, form, case
):
    from attendance_app.services.school import people

    admin = make_admin(app)
    person = make_teacher(app, first_name=first, last_name=last)
    db.session.remove()
    query = case(form.format(f=first, l=last))

    found = people.list_users(actor=actor(admin.user_id), query=query)

    assert person.user_id in {u.id for u in found}, query
    db.session.remove()


# --- CSV import: all or nothing -------------------------------------------------------------

NUMBERS = st.sampled_from(["N1", "N2", "n1", "N3"])
EMAILS = st.sampled_from(["a@school.test", "A@School.test", "b@school.test", "not-an-email"])
IMPORT_ROWS = st.lists(
    st.tuples(NUMBERS, NAMES, NAMES, EMAILS, st.sampled_from(["CLASS", "class", "Nowhere"])),
    min_size=1,
    max_size=5,
)


@PROPERTY_SETTINGS
@given(rows=IMPORT_ROWS, taken=st.sampled_from([None, "a@school.test", "B@school.test"]))
def test_a_csv_import_is_all_or_nothing_and_never_a_crash(app, ctx, rows, taken):
    import csv
    import io

    from attendance_app.models import Enrollment, User
    from attendance_app.services.errors import Invalid
    from attendance_app.services.school import student_import

    admin = make_admin(app)
    klass = make_class(app, admin=admin, students=0)
    # Each example its own numbers and addresses, so earlier examples do not interfere.
    tag = uuid4_hex()
    if taken:  # an address an existing (staff) account already has, in its own case
        make_teacher(app, email=taken.replace("@", f"{tag}@"))
    db.session.remove()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(student_import.COLUMNS)
    for number, first, last, email, class_name in rows:
        name = klass.name if class_name.upper() == "CLASS" else class_name
        name = name.lower() if class_name == "class" else name
        writer.writerow([f"{number}{tag}", first, last, email.replace("@", f"{tag}@"), name])

    def counts():
        return (
            db.session.scalar(select(func.count()).select_from(User)),
            db.session.scalar(select(func.count()).select_from(Enrollment)),
        )

    before = counts()
    db.session.remove()
    preview = student_import.preview_import(actor=actor(admin.user_id), text=out.getvalue())
    db.session.remove()
    try:
        result = student_import.apply_import(actor=actor(admin.user_id), text=out.getvalue())
    except Invalid:
        db.session.remove()
        assert not preview.ok
        assert counts() == before, "a refused import changed something"
        return
    db.session.remove()
    assert preview.ok
    users, enrolments = counts()
    assert users == before[0] + result.students_created
    assert enrolments == before[1] + result.enrolments_created


def uuid4_hex() -> str:
    import uuid

    return uuid.uuid4().hex[:8]
