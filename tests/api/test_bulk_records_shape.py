"""A bulk mark's ``records`` are read by ``schemas.plain_records`` when every entry is plain
and valid, by marshmallow's ``MarkRecord`` otherwise: the request must load to exactly the
same data, or fail with exactly the same messages in the same order, as with ``MarkRecord``
alone (hypothesis, over valid and invalid entries alike)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError, fields

from attendance_app.api.schemas import (
    MarkRecord,
    MarkRequest,
    _messages,
    plain_records,
)
from attendance_app.models import AttendanceStatus
from attendance_app.services.fields import NOTES_MAX
from attendance_app.services.marking.bulk import MAX_BULK_RECORDS

# Schemas only: whichever database the suite runs on, these tests are the same.
pytestmark = pytest.mark.database_independent


class ReferenceMarkRequest(MarkRequest):
    """``MarkRequest`` with its ``records`` read by ``MarkRecord`` only (as before the fast
    path): the same field, the same validators and messages."""

    records = fields.List(
        fields.Nested(MarkRecord, error_messages=_messages()),
        load_default=None,
        validate=MarkRequest._declared_fields["records"].validators,
        error_messages=MarkRequest._declared_fields["records"].error_messages,
    )


def outcome(schema: Any, body: Any) -> tuple[str, str]:
    """What loading ``body`` gives, order included: the data, or the error messages."""
    try:
        return "ok", repr(ordered(schema.load(body)))
    except ValidationError as error:
        return "error", json.dumps(error.messages, default=str)


def ordered(value: Any) -> Any:
    """``value`` with every dict as its list of items, so comparing also compares key order."""
    if isinstance(value, dict):
        return [(k, ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [ordered(v) for v in value]
    return (type(value).__name__, value)


def uuid_texts() -> st.SearchStrategy[str]:
    """Every spelling ``uuid.UUID`` reads (and near misses)."""
    return st.uuids().flatmap(
        lambda u: st.sampled_from(
            [
                str(u),
                u.hex,
                str(u).upper(),
                "{" + str(u) + "}",
                "urn:uuid:" + str(u),
                str(u)[:-1],
                str(u) + "0",
                " " + str(u),
                str(u).replace("-", "_", 1),
            ]
        )
    )


JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)
)
STUDENT_IDS = st.one_of(uuid_texts(), uuid_texts(), JSON_SCALARS, st.lists(st.text(), max_size=1))
STATUSES = st.one_of(
    st.sampled_from([s.value for s in AttendanceStatus]),
    st.sampled_from([s.value for s in AttendanceStatus]),
    st.sampled_from(["present", "Present", "PRESENT ", "", "EXCUSED", "value", "name"]),
    JSON_SCALARS,
)
NOTES = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.text(max_size=5).map(lambda t: t + "\x00"),
    st.text(max_size=5).map(lambda t: "\x00" + t),
    st.sampled_from(["x" * NOTES_MAX, "x" * (NOTES_MAX + 1), ""]),
    st.integers(),
    st.lists(st.text(max_size=2), max_size=1),
)


def _reads(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


VALID_ENTRIES = st.fixed_dictionaries(
    {
        "student_id": uuid_texts().filter(_reads),
        "status": st.sampled_from([s.value for s in AttendanceStatus]),
    },
    optional={
        "notes": st.one_of(
            st.none(),
            st.text(max_size=30).filter(lambda t: "\x00" not in t),
            st.just("x" * NOTES_MAX),
        )
    },
)
FIELDS = {"student_id": STUDENT_IDS, "status": STATUSES, "notes": NOTES}


@st.composite
def entries(draw: st.DrawFn) -> Any:
    """One entry of ``records``: a valid one with, half the time, one thing changed (a field
    given any value, a field left out, a key added, the keys reordered, or no object at all),
    so the examples sit on the edge between the two readers."""
    entry: Any = draw(VALID_ENTRIES)
    change = draw(st.integers(0, 9))
    if change <= 2:
        key = draw(st.sampled_from(sorted(FIELDS)))
        entry[key] = draw(FIELDS[key])
    elif change == 3:
        entry.pop(draw(st.sampled_from(sorted(entry))))
    elif change == 4:
        entry[draw(st.sampled_from(["extra", "id", "student"]))] = draw(JSON_SCALARS)
    elif change == 5:
        entry = dict(reversed(list(entry.items())))
    elif change == 6:
        entry = draw(st.one_of(JSON_SCALARS, st.lists(st.integers(), max_size=2)))
    return entry


@st.composite
def records_with_one_changed(draw: st.DrawFn) -> list[Any]:
    """Valid entries with one (possibly) changed entry among them, anywhere."""
    records = draw(st.lists(VALID_ENTRIES, max_size=4))
    records.insert(draw(st.integers(0, len(records))), draw(entries()))
    return records


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    """A request body: a bulk mark (most often), sometimes with single-mark keys as well, or
    ``records`` that is not a list."""
    body: dict[str, Any] = {"session_id": draw(st.one_of(st.uuids().map(str), JSON_SCALARS))}
    choice = draw(st.integers(0, 9))
    if choice == 0:
        body["records"] = draw(
            st.one_of(JSON_SCALARS, st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
        )
    elif choice <= 4:
        body["records"] = draw(st.lists(VALID_ENTRIES, max_size=6))
    else:
        body["records"] = draw(records_with_one_changed())
    if draw(st.integers(0, 7)) == 0:
        body["student_id"] = str(draw(st.uuids()))
        body["status"] = draw(STATUSES)
    return body


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(bodies())
def test_a_bulk_request_loads_as_marshmallow_alone_loads_it(body: Any) -> None:
    assert outcome(MarkRequest(), body) == outcome(ReferenceMarkRequest(), body)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(VALID_ENTRIES, min_size=1, max_size=8))
def test_plain_valid_entries_take_the_fast_path(records: list[dict[str, Any]]) -> None:
    loaded = plain_records(records)
    assert loaded is not None
    assert ordered(loaded) == ordered([MarkRecord().load(r) for r in records])


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(records_with_one_changed())
def test_the_fast_path_accepts_only_what_marshmallow_accepts(records: list[Any]) -> None:
    loaded = plain_records(records)
    if loaded is None:
        return
    assert ordered(loaded) == ordered([MarkRecord().load(r) for r in records])


def test_the_list_rules_still_apply_on_the_fast_path() -> None:
    record = {"student_id": str(uuid.uuid4()), "status": "PRESENT"}
    for records in ([], [record] * (MAX_BULK_RECORDS + 1)):
        body = {"session_id": str(uuid.uuid4()), "records": records}
        assert outcome(MarkRequest(), body) == outcome(ReferenceMarkRequest(), body)
        assert outcome(MarkRequest(), body)[0] == "error"


def test_a_class_of_five_hundred_takes_the_fast_path() -> None:
    records = [
        {"student_id": str(uuid.uuid4()), "status": ("PRESENT", "ABSENT", "LATE")[i % 3]}
        | ({"notes": f"note {i}"} if i % 10 == 0 else {})
        for i in range(500)
    ]
    assert plain_records(records) is not None
    body = {"session_id": str(uuid.uuid4()), "records": records}
    assert outcome(MarkRequest(), body) == outcome(ReferenceMarkRequest(), body)
