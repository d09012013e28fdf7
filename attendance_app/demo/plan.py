"""The demo school's plan: who teaches and learns what, and every random choice, decided up
front from one seed so that the same seed always gives the same school."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from attendance_app.models import AbsenceReason, AttendanceStatus

DEMO_PASSWORD = "demo-password"
SCHOOL_NAME = "Northfield Academy"
DOMAIN = "northfield.example"
ADMIN = ("Helen", "Whitaker", f"admin@{DOMAIN}")
SEED = 20260907
WEEKS = 6
LESSON = timedelta(minutes=50)
#: Today's live lesson began this long ago (never before midnight UTC).
LIVE_STARTED_AGO = timedelta(minutes=7)
LIVE_MARKED = 6

TEACHERS = (
    ("Amara", "Okafor", f"a.okafor@{DOMAIN}"),
    ("Daniel", "Brennan", f"d.brennan@{DOMAIN}"),
    ("Priya", "Raman", f"p.raman@{DOMAIN}"),
)
SUBJECTS = (
    ("MATH", "Mathematics"),
    ("ENG", "English Literature"),
    ("BIO", "Biology"),
    ("HIST", "History"),
)


@dataclass(frozen=True)
class ClassPlan:
    name: str
    subject: str  # code in SUBJECTS
    teacher: int  # index in TEACHERS
    size: int
    slots: tuple[tuple[int, time], ...]  # (weekday, lesson start in UTC), twice a week


CLASSES = (
    ClassPlan("Year 10 Mathematics (Set 1)", "MATH", 0, 28, ((0, time(9, 0)), (3, time(11, 15)))),
    ClassPlan("Year 11 Mathematics (Set 2)", "MATH", 0, 24, ((1, time(10, 5)), (4, time(9, 0)))),
    ClassPlan("Year 10 English Literature", "ENG", 1, 31, ((0, time(11, 15)), (2, time(9, 0)))),
    ClassPlan("Year 11 History", "HIST", 1, 22, ((1, time(13, 30)), (3, time(14, 25)))),
    ClassPlan("Year 10 Biology", "BIO", 2, 33, ((2, time(11, 15)), (4, time(13, 30)))),
)
#: The class whose lesson is running right now.
LIVE_CLASS = 0

FIRST_NAMES = (
    "Aaliyah", "Aarav", "Abigail", "Adebayo", "Aiden", "Aisha", "Alejandro", "Amelia", "Ananya",
    "Arjun", "Ava", "Benjamin", "Bilal", "Caleb", "Chloe", "Chen", "Daniela", "Dmitri", "Elif",
    "Elijah", "Emeka", "Emma", "Ethan", "Fatima", "Finn", "Freya", "Gabriel", "Grace", "Hana",
    "Harper", "Hassan", "Isabella", "Isaac", "Jamal", "Jasmine", "Javier", "Kai", "Keira",
    "Kofi", "Layla", "Leo", "Liam", "Lucia", "Mateo", "Maya", "Mei", "Mohammed", "Nadia",
    "Naomi", "Noah", "Oliver", "Olivia", "Omar", "Priya", "Rafael", "Rosa", "Ruby", "Samuel",
    "Sofia", "Soren", "Tariq", "Theo", "Yara", "Yusuf", "Zara", "Zoë",
)  # fmt: skip
LAST_NAMES = (
    "Abara", "Ahmed", "Andersen", "Bailey", "Banerjee", "Barros", "Brooks", "Campbell",
    "Castillo", "Chowdhury", "Clarke", "Costa", "Davies", "Dimitrou", "Doyle", "Evans",
    "Fernández", "Fitzgerald", "Gallagher", "García", "Haddad", "Hughes", "Ibrahim", "Ivanova",
    "Jensen", "Kaur", "Kelly", "Khan", "Kowalski", "Lindqvist", "Lopez", "MacLeod", "Mensah",
    "Morales", "Murphy", "Nakamura", "Nguyen", "Novak", "O'Brien", "Okonkwo", "Owusu", "Park",
    "Patel", "Petrov", "Quinn", "Reyes", "Robinson", "Rossi", "Santos", "Schmidt", "Silva",
    "Singh", "Sullivan", "Tanaka", "Thompson", "Tran", "Walsh", "Wang", "Williams", "Yilmaz",
)  # fmt: skip

#: How each kind of student turns up: (present, late, absent) weights.
PERSONAS = {
    "reliable": (97, 2, 1),
    "steady": (88, 7, 5),
    "often late": (56, 37, 7),
    "at risk": (45, 12, 43),
}
PUNCTUAL = ("reliable", "steady")
#: How many of each the school has (the rest are "steady").
PERSONA_COUNTS = {"at risk": 6, "often late": 10, "reliable": 34}
STUDENT_COUNT = 80
#: Seats per class for each kind of student: a couple at risk, a few often late.
SEATS = {"at risk": 2, "often late": 3}
LATE_NOTES = ("Bus was late", "Came from the nurse", "Music lesson ran over", "Overslept")
ABSENT_NOTES = ("Ill - parent phoned in", "Medical appointment", "Family emergency")
#: The office excuses an absence whose reason it was told (the note says which), after the
#: lesson has ended; absences without a word, and every at-risk run, stay unexcused.
EXCUSED_BY_NOTE = {
    "Ill - parent phoned in": AbsenceReason.ILLNESS,
    "Medical appointment": AbsenceReason.MEDICAL,
    "Family emergency": AbsenceReason.FAMILY,
}


# --- the plan: everything random, decided up front from the seed -------------------------------


@dataclass(frozen=True)
class StudentPlan:
    number: str
    first_name: str
    last_name: str
    email: str
    persona: str
    #: For "at risk" students: how many lessons in a row they have missed, up to the latest.
    absent_streak: int = 0


@dataclass(frozen=True)
class Plan:
    students: tuple[StudentPlan, ...]
    rosters: tuple[tuple[str, ...], ...]  # student numbers per class, in CLASSES order

    def persona_of(self, number: str) -> str | None:
        return next((s.persona for s in self.students if s.number == number), None)


#: Relationships a demo guardian has, as the back office writes them.
GUARDIAN_RELATIONSHIPS = ("Parent", "Parent", "Grandparent", "Carer")


@dataclass(frozen=True)
class GuardianPlan:
    student_number: str
    name: str
    email: str
    relationship: str
    notify: bool = True


def guardian_plan(plan: Plan, seed: int = SEED) -> tuple[GuardianPlan, ...]:
    """Guardians for the students at risk and every third other student (one has turned the
    emails off), at addresses no one reads (``home.example``); the same for the same seed,
    and drawn apart from the rest so the school's other choices do not change."""
    rng = random.Random(seed + 2)
    out = []
    for i, s in enumerate(plan.students):
        if s.persona != "at risk" and i % 3:
            continue
        first = rng.choice(FIRST_NAMES)
        out.append(
            GuardianPlan(
                student_number=s.number,
                name=f"{first} {s.last_name}",
                email=f"{_email_part(first)}.{_email_part(s.last_name)}.{s.number.lower()}"
                "@home.example",
                relationship=rng.choice(GUARDIAN_RELATIONSHIPS),
                notify=len(out) != 1,
            )
        )
    return tuple(out)


def _email_part(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_name.lower() if ch.isalnum() or ch == "-")


def make_plan(seed: int = SEED) -> Plan:
    """Who the students are and who is in which class; the same for the same seed."""
    rng = random.Random(seed)
    names: list[tuple[str, str]] = []
    emails: set[str] = set()
    while len(names) < STUDENT_COUNT:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{_email_part(first)}.{_email_part(last)}@{DOMAIN}"
        if email not in emails:
            emails.add(email)
            names.append((first, last))
    personas = [p for p, n in PERSONA_COUNTS.items() for _ in range(n)]
    personas += ["steady"] * (STUDENT_COUNT - len(personas))
    rng.shuffle(personas)
    students = tuple(
        StudentPlan(
            number=f"S{10001 + i}",
            first_name=first,
            last_name=last,
            email=f"{_email_part(first)}.{_email_part(last)}@{DOMAIN}",
            persona=persona,
            absent_streak=rng.choice((3, 3, 4, 5)) if persona == "at risk" else 0,
        )
        for i, ((first, last), persona) in enumerate(zip(names, personas, strict=True))
    )
    by_persona: dict[str, list[str]] = {}
    for s in students:
        by_persona.setdefault(s.persona, []).append(s.number)
    by_persona["others"] = by_persona.pop("reliable") + by_persona.pop("steady")
    rosters: list[list[str]] = [[] for _ in CLASSES]
    for group, numbers in by_persona.items():
        seats = [
            i
            for i, c in enumerate(CLASSES)
            for _ in range(SEATS.get(group, c.size - sum(SEATS.values())))
        ]
        _seat(rng, numbers, seats, rosters)
    return Plan(students, tuple(tuple(sorted(r)) for r in rosters))


def _seat(rng: random.Random, numbers: list[str], seats: list[int], rosters) -> None:
    """Fill the seats (class indexes) with these students: each gets one seat first (so
    everyone is in a class), the seats left go to students not yet in that class."""
    numbers, seats = numbers[:], seats[:]
    rng.shuffle(numbers)
    rng.shuffle(seats)
    for number, seat in zip(numbers, seats, strict=False):
        rosters[seat].append(number)
    for seat in seats[len(numbers) :]:
        rosters[seat].append(rng.choice([n for n in numbers if n not in rosters[seat]]))


def lesson_starts(plan: ClassPlan, today: date) -> list[datetime]:
    """The class's lessons in the ``WEEKS`` weeks before ``today`` (UTC), oldest first."""
    starts = []
    for back in range(WEEKS * 7, 0, -1):
        day = today - timedelta(days=back)
        for weekday, at in plan.slots:
            if day.weekday() == weekday:
                starts.append(datetime.combine(day, at, tzinfo=UTC))
    return starts


def excuse_for(status: AttendanceStatus, note: str | None) -> AbsenceReason | None:
    """The reason the office excuses this mark for (None: not excused)."""
    if status != AttendanceStatus.ABSENT or note is None:
        return None
    return EXCUSED_BY_NOTE.get(note)


def lesson_status(rng: random.Random, student: StudentPlan, lesson: int, lessons: int):
    if student.persona == "at risk" and lesson >= lessons - student.absent_streak:
        return AttendanceStatus.ABSENT, None
    present, late, absent = PERSONAS[student.persona]
    status = rng.choices(
        (AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.ABSENT),
        weights=(present, late, absent),
    )[0]
    note = None
    if status == AttendanceStatus.LATE and rng.random() < 0.5:
        note = rng.choice(LATE_NOTES)
    elif status == AttendanceStatus.ABSENT and rng.random() < 0.4:
        note = rng.choice(ABSENT_NOTES)
    return status, note
