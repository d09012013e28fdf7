"""CSV import of students, their enrolments and (optional columns) their guardians: a preview
that writes nothing, then an all-or-nothing apply that re-validates the same text."""

from __future__ import annotations

import csv
import io
import re
import secrets
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from attendance_app.extensions import db
from attendance_app.models import Guardian, Role, SchoolClass, Student, User
from attendance_app.services import permissions
from attendance_app.services.errors import Invalid
from attendance_app.services.fields import (
    CLASS_NAME_MAX,
    EMAIL_MAX,
    NAME_MAX,
    STUDENT_NUMBER_MAX,
    control_character_message,
)
from attendance_app.services.school import guardians
from attendance_app.services.school.people import create_user, normalise_email
from attendance_app.services.school.structure import enroll_students
from attendance_app.services.transaction import unit_of_work
from attendance_app.shapes import CONTROL_CHARACTERS

COLUMNS = ("student_number", "first_name", "last_name", "email", "class_name")
#: Optional, after the others: a guardian of the line's student (all three, or none).
GUARDIAN_COLUMNS = ("guardian_name", "guardian_email", "guardian_relationship")
#: The template's example row: plainly not a student (and refused if uploaded unchanged); its
#: class is one of the school's own, so the file shows how they are written.
TEMPLATE_NUMBER = "EXAMPLE-1"
TEMPLATE_EXAMPLE = (TEMPLATE_NUMBER, "Example", "Student", "example.student@example.invalid")
TEMPLATE_NO_CLASS = "Name of a class, as on the Classes page"
#: The app refuses form fields over 500 KB, and the confirm step carries the file in one.
MAX_BYTES = 400_000
MAX_ROWS = 5_000
MAX_LENGTHS = {
    "student_number": STUDENT_NUMBER_MAX,
    "first_name": NAME_MAX,
    "last_name": NAME_MAX,
    "email": EMAIL_MAX,
    "class_name": CLASS_NAME_MAX,
    "guardian_name": NAME_MAX,
    "guardian_email": EMAIL_MAX,
    "guardian_relationship": guardians.RELATIONSHIP_MAX,
}

NOT_UTF8 = "The file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again."
TOO_BIG = f"The file is larger than {MAX_BYTES // 1000} KB; split it into smaller files."
TOO_MANY_ROWS = f"The file has more than {MAX_ROWS:,} rows; split it into smaller files."
EMPTY_FILE = "The file is empty."
NO_ROWS = "The file has a header but no rows."
BAD_HEADER = (
    "The first line must be the header: "
    + ",".join(COLUMNS)
    + " (optionally followed by "
    + ",".join(GUARDIAN_COLUMNS)
    + ")."
)
NUL_CHARACTER = "The file contains a NUL character; it is not a CSV file."
HAS_PROBLEMS = "The file has {count} problem(s); nothing was imported."
WRONG_COLUMN_COUNT = "Expected {expected} values, found {found}."
REQUIRED = "{column} is required."
TOO_LONG = "{column} is longer than {limit} characters."
CONTROL_IN_VALUE = "{column}: " + CONTROL_CHARACTERS
BAD_EMAIL = "“{email}” is not an email address."
UNKNOWN_CLASS = "There is no class named “{name}”."
AMBIGUOUS_CLASS = "More than one class is named “{name}”; rename one before importing."
NUMBER_EMAIL_CLASH = "Student number {number} is used with another email on line {line}."
EMAIL_NUMBER_CLASH = "Email {email} is used with another student number on line {line}."
DUPLICATE_ROW = "Student {number} is already listed for class “{name}” on line {line}."
EXISTING_NUMBER_OTHER_EMAIL = (
    "Student number {number} already belongs to {email}; the file gives a different email."
)
EMAIL_BELONGS_TO_OTHER = "Email {email} already belongs to another user."
GUARDIAN_INCOMPLETE = (
    "A guardian needs guardian_name, guardian_email and guardian_relationship; {missing} is"
    " missing."
)
GUARDIAN_NAME_CLASH = "Guardian {email} of student {number} has another name on line {line}."
TOO_MANY_GUARDIANS = (
    "Student {number} would have more than " + str(guardians.MAX_PER_STUDENT) + " guardians."
)
TEMPLATE_ROW = "This is the template's example row: replace it with a student, or delete it."

_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.]+$")

#: Not a hash any password matches (werkzeug rejects it), random so no two are alike.
_UNUSABLE_PREFIX = "!unusable$"


@dataclass(frozen=True)
class ImportRow:
    line: int
    student_number: str
    first_name: str
    last_name: str
    email: str
    class_name: str
    class_id: uuid.UUID | None = None
    student_id: uuid.UUID | None = None  # set when the student already exists
    guardian_name: str = ""  # all three empty: no guardian on this line
    guardian_email: str = ""
    guardian_relationship: str = ""


@dataclass(frozen=True)
class LineError:
    line: int
    message: str


@dataclass
class Preview:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.errors

    @property
    def new_students(self) -> int:
        return len({r.student_number for r in self.rows if r.student_id is None})


@dataclass(frozen=True)
class ImportCounts:
    rows: int
    students_created: int
    students_reused: int
    enrolments_created: int
    guardians_created: int = 0


def decode_upload(data: bytes) -> str:
    """An uploaded file's bytes as text (UTF-8, with or without BOM). Raises Invalid."""
    if len(data) > MAX_BYTES:
        raise Invalid(TOO_BIG, field="file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(NOT_UTF8, field="file") from exc


def template_csv(*, actor: User) -> str:
    """The import template (admins): the header and one example row, plainly an example
    (TEMPLATE_NUMBER, refused if left in) with the first of the school's class names. Raises
    Forbidden."""
    names = class_names(actor=actor)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerow((*TEMPLATE_EXAMPLE, names[0] if names else TEMPLATE_NO_CLASS))
    return out.getvalue()


def class_names(*, actor: User) -> list[str]:
    """The class names a file may use (admins). Raises Forbidden."""
    permissions.require_admin(actor)
    return list(db.session.scalars(select(SchoolClass.name).distinct().order_by(SchoolClass.name)))


def preview_import(*, actor: User, text: str) -> Preview:
    """:func:`parse_import` for an admin; writes nothing. Raises Forbidden."""
    permissions.require_admin(actor)
    return parse_import(text)


def parse_import(text: str) -> Preview:
    """Parse and validate every row; errors carry line numbers (the header is line 1)."""
    preview = Preview()
    text = text.removeprefix("\ufeff")
    if len(text.encode("utf-8")) > MAX_BYTES:
        preview.errors.append(LineError(1, TOO_BIG))
        return preview
    if "\x00" in text:
        preview.errors.append(LineError(1, NUL_CHARACTER))
        return preview
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            preview.errors.append(LineError(1, EMPTY_FILE))
            return preview
        names = tuple(h.strip().lower() for h in header)
        if names not in (COLUMNS, COLUMNS + GUARDIAN_COLUMNS):
            preview.errors.append(LineError(1, BAD_HEADER))
            return preview
        raw: list[tuple[int, list[str]]] = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue  # blank lines (often the last one) are not rows
            if len(raw) == MAX_ROWS:
                preview.errors.append(LineError(reader.line_num, TOO_MANY_ROWS))
                return preview
            raw.append((reader.line_num, values))
    except csv.Error as exc:
        preview.errors.append(LineError(reader.line_num, f"Not valid CSV: {exc}."))
        return preview
    if not raw:
        preview.errors.append(LineError(2, NO_ROWS))
        return preview

    lines = [_read(line, values, names) for line, values in raw]
    preview.rows = _check(lines)
    preview.errors = [LineError(ln.line, p) for ln in lines for p in ln.problems]
    return preview


@dataclass
class _Line:
    """One line of the file: its values by column (None when their number is wrong) and every
    problem found with it so far."""

    line: int
    data: dict[str, str] | None
    problems: list[str] = field(default_factory=list)
    bad: set[str] = field(default_factory=set)  # columns whose value is missing or malformed

    def has(self, column: str) -> bool:
        """The column has a usable value (present, of a valid length and form)."""
        return self.data is not None and bool(self.data[column]) and column not in self.bad

    def value(self, column: str) -> str:
        return self.data[column] if self.data is not None else ""


def _read(line: int, values: list[str], columns: tuple[str, ...] = COLUMNS) -> _Line:
    """The line's values and what is wrong with their shape: every problem, not the first."""
    if len(values) != len(columns):
        found = WRONG_COLUMN_COUNT.format(expected=len(columns), found=len(values))
        return _Line(line, None, [found])
    data = dict.fromkeys(GUARDIAN_COLUMNS, "")
    data.update(zip(columns, (v.strip() for v in values), strict=True))
    data["email"] = normalise_email(data["email"])
    data["guardian_email"] = normalise_email(data["guardian_email"])
    out = _Line(line, data)
    has_guardian = any(data[c] for c in GUARDIAN_COLUMNS)
    for column in COLUMNS + GUARDIAN_COLUMNS:
        if column in GUARDIAN_COLUMNS and not data[column]:
            if has_guardian:
                out.problems.append(GUARDIAN_INCOMPLETE.format(missing=column))
                out.bad.add(column)
        elif not data[column]:
            out.problems.append(REQUIRED.format(column=column))
            out.bad.add(column)
        elif column in MAX_LENGTHS and len(data[column]) > MAX_LENGTHS[column]:
            out.problems.append(TOO_LONG.format(column=column, limit=MAX_LENGTHS[column]))
            out.bad.add(column)
        elif control_character_message(data[column]):
            # A quoted CSV value may hold a line break: never in a name, email or class.
            out.problems.append(CONTROL_IN_VALUE.format(column=column))
            out.bad.add(column)
    for column in ("email", "guardian_email"):
        if data[column] and column not in out.bad and not _EMAIL.match(data[column]):
            out.problems.append(BAD_EMAIL.format(email=data[column]))
            out.bad.add(column)
    if data["student_number"].casefold() == TEMPLATE_NUMBER.casefold():
        out.problems.append(TEMPLATE_ROW)
    return out


def _check(lines: list[_Line]) -> list[ImportRow]:
    """Check every line against the file's other lines and the database, adding each problem
    to its line; the lines without any, as rows to import (class ids and existing students'
    ids filled in). Three queries whatever the file's size."""
    numbers = {ln.value("student_number") for ln in lines if ln.has("student_number")}
    emails = {ln.value("email") for ln in lines if ln.has("email")}
    classes: dict[str, list[uuid.UUID]] = defaultdict(list)
    for class_id, name in db.session.execute(select(SchoolClass.id, SchoolClass.name)):
        classes[name.strip().lower()].append(class_id)
    students = (
        {
            number: (student_id, email)
            for number, student_id, email in db.session.execute(
                select(Student.student_number, Student.id, User.email)
                .join(User, User.id == Student.user_id)
                .where(Student.student_number.in_(numbers))
            )
        }
        if numbers
        else {}
    )
    owners: dict[str, str | None] = (
        dict(
            db.session.execute(
                select(func.lower(User.email), Student.student_number)
                .outerjoin(Student, Student.user_id == User.id)
                .where(User.email.in_(emails))
            ).all()
        )
        if emails
        else {}
    )

    listed: dict[uuid.UUID, set[str]] = defaultdict(set)  # existing students' guardians
    known = [sid for sid, _ in students.values()]
    if known:
        for student_id, guardian_email in db.session.execute(
            select(Guardian.student_id, Guardian.email).where(Guardian.student_id.in_(known))
        ):
            listed[student_id].add(guardian_email)
    guardian_names: dict[tuple[str, str], tuple[str, int]] = {}
    new_guardians: dict[str, set[str]] = defaultdict(set)

    first_email: dict[str, tuple[str, int]] = {}
    first_number: dict[str, tuple[str, int]] = {}
    seen_pairs: dict[tuple[str, str], int] = {}
    good: list[ImportRow] = []
    for ln in lines:
        if ln.data is None:
            continue
        row, problems = ln.data, ln.problems
        number, email, class_name = row["student_number"], row["email"], row["class_name"]
        if ln.has("student_number") and ln.has("email"):
            first, line = first_email.setdefault(number, (email, ln.line))
            if first != email:
                problems.append(NUMBER_EMAIL_CLASH.format(number=number, line=line))
            first, line = first_number.setdefault(email, (number, ln.line))
            if first != number:
                problems.append(EMAIL_NUMBER_CLASH.format(email=email, line=line))
        matches: list[uuid.UUID] = []
        if ln.has("class_name"):
            key = class_name.lower()
            if ln.has("student_number"):
                line = seen_pairs.setdefault((number, key), ln.line)
                if line != ln.line:
                    problems.append(DUPLICATE_ROW.format(number=number, name=class_name, line=line))
            matches = classes.get(key, [])
            if not matches:
                problems.append(UNKNOWN_CLASS.format(name=class_name))
            elif len(matches) > 1:
                problems.append(AMBIGUOUS_CLASS.format(name=class_name))
        existing = students.get(number) if ln.has("student_number") else None
        if existing is not None and ln.has("email") and existing[1] != email:
            problems.append(EXISTING_NUMBER_OTHER_EMAIL.format(number=number, email=existing[1]))
        elif existing is None and ln.has("email") and email in owners:
            problems.append(EMAIL_BELONGS_TO_OTHER.format(email=email))
        guardian_email = row["guardian_email"]
        if ln.has("guardian_email") and ln.has("guardian_name") and ln.has("student_number"):
            first, line = guardian_names.setdefault(
                (number, guardian_email), (row["guardian_name"], ln.line)
            )
            if first != row["guardian_name"]:
                problems.append(
                    GUARDIAN_NAME_CLASH.format(email=guardian_email, number=number, line=line)
                )
            already = listed[existing[0]] if existing is not None else set()
            if guardian_email not in already:
                new_guardians[number].add(guardian_email)
                if len(already) + len(new_guardians[number]) == guardians.MAX_PER_STUDENT + 1:
                    problems.append(TOO_MANY_GUARDIANS.format(number=number))
        if problems:
            continue
        good.append(
            ImportRow(
                line=ln.line,
                student_number=number,
                first_name=row["first_name"],
                last_name=row["last_name"],
                email=email,
                class_name=class_name,
                class_id=matches[0],
                student_id=existing[0] if existing else None,
                guardian_name=row["guardian_name"],
                guardian_email=guardian_email,
                guardian_relationship=row["guardian_relationship"],
            )
        )
    return good


@unit_of_work
def apply_import(*, actor: User, text: str) -> ImportCounts:
    """Create the file's missing students and enrolments, all or nothing (admins).

    Existing students (by number) are reused; enrolling twice is not an error. New students
    get a random unusable password (an admin resets it later). Raises Forbidden, Invalid
    (with ``errors`` = {line: [messages]} when any row is wrong).
    """
    permissions.require_admin(actor)
    preview = parse_import(text)
    if preview.errors or not preview.rows:
        by_line: dict[str, list[str]] = defaultdict(list)
        for error in preview.errors:
            by_line[str(error.line)].append(error.message)
        count = len(preview.errors) or 1
        raise Invalid(HAS_PROBLEMS.format(count=count), field="file", errors=dict(by_line) or None)

    student_ids: dict[str, uuid.UUID] = {}
    created = 0
    for row in preview.rows:
        if row.student_number in student_ids:
            continue
        if row.student_id is not None:
            student_ids[row.student_number] = row.student_id
            continue
        user = create_user(
            actor=actor,
            email=row.email,
            # The hash below is what is stored; no password matches it until a reset.
            password=secrets.token_urlsafe(24),
            password_hash=_UNUSABLE_PREFIX + secrets.token_hex(16),
            first_name=row.first_name,
            last_name=row.last_name,
            role=Role.STUDENT,
            student_number=row.student_number,
        )
        assert user.student is not None  # create_user makes a student's row with the user
        student_ids[row.student_number] = user.student.id
        created += 1

    by_class: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for row in preview.rows:
        assert row.class_id is not None  # a row without its class is a problem, not a row
        by_class[row.class_id].append(student_ids[row.student_number])
    enrolled = 0
    for class_id, ids in by_class.items():
        enrolled += enroll_students(actor=actor, class_id=class_id, student_ids=ids).enrolled
    added = 0
    seen: set[tuple[uuid.UUID, str]] = set()
    for row in preview.rows:
        student_id = student_ids[row.student_number]
        if not row.guardian_email or (student_id, row.guardian_email) in seen:
            continue
        seen.add((student_id, row.guardian_email))
        if any(g.email == row.guardian_email for g in guardians.guardians_of(student_id)):
            continue  # listed before: a file imported twice adds nobody twice
        guardians.add_guardian(
            actor=actor,
            student_id=student_id,
            name=row.guardian_name,
            email=row.guardian_email,
            relationship=row.guardian_relationship,
        )
        added += 1
    return ImportCounts(
        rows=len(preview.rows),
        students_created=created,
        students_reused=len(student_ids) - created,
        enrolments_created=enrolled,
        guardians_created=added,
    )
