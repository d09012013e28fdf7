"""One person search (services.school.people.person_search) behind every search for a person: the
back office's people and students to enrol, the admin's records and the CSV export. Names
are found as the app shows them — "First Last", "Last First", "Last, First" — in any case,
with or without accents, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from attendance_app.extensions import db
from attendance_app.models import Role, User
from attendance_app.services.reporting import exports, records
from attendance_app.services.reporting.records import RecordFilters
from attendance_app.services.school import listings, people
from tests.factories import actor, make_admin, make_class, make_session, make_student, mark_many


@pytest.fixture
def named(app):
    """An admin; Jamal Silva, Zoë Ñúñez and Amélie Dubois-Lefèvre marked in one session, and
    a student outside the class (to enrol)."""
    admin = make_admin(app)
    jamal = make_student(app, first_name="Jamal", last_name="Silva", with_token=False)
    zoe = make_student(app, first_name="Zoë", last_name="Ñúñez", with_token=False)
    amelie = make_student(app, first_name="Amélie", last_name="Dubois-Lefèvre", with_token=False)
    klass = make_class(app, admin=admin, students=[jamal, zoe])
    session_id = make_session(app, klass)
    mark_many(app, klass, session_id, [(jamal, "PRESENT"), (zoe, "LATE")])
    return {"admin": admin, "jamal": jamal, "zoe": zoe, "amelie": amelie, "klass": klass}


def _everywhere(named, query: str) -> dict[str, set[str]]:
    """The last names each search finds with ``query``."""
    admin = actor(named["admin"].user_id)
    return {
        "people": {u.last_name for u in people.list_users(actor=admin, query=query)},
        "people pages": {u.last_name for u in listings.page_users(actor=admin, query=query).items},
        "to enrol": {
            s.user.last_name
            for s in listings.enrolment_candidates(
                actor=admin, class_id=named["klass"].id, query=query
            ).students
        },
        "records": {
            r.student_name.split(" ", 1)[1]
            for r in records.list_records(actor=admin, filters=RecordFilters(search=query)).items
        },
        "export": {
            r.last_name
            for r in exports.export_rows(actor=admin, filters=RecordFilters(search=query))
        },
    }


def _expect(named, last_name: str) -> dict[str, set[str]]:
    """What every search finds when ``last_name``'s student is the only match."""
    enrolled = last_name != "Dubois-Lefèvre"
    return {
        "people": {last_name},
        "people pages": {last_name},
        "to enrol": set() if enrolled else {last_name},
        "records": {last_name} if enrolled else set(),
        "export": {last_name} if enrolled else set(),
    }


@pytest.mark.parametrize(
    "query",
    ["Jamal Silva", "Silva Jamal", "Silva, Jamal", "silva,jamal", "SILVA,  JAMAL", "ílva, Jám"],
)
def test_a_name_is_found_as_the_app_writes_it_in_any_case_and_accents(app, ctx, named, query):
    assert _everywhere(named, query) == _expect(named, "Silva")


@pytest.mark.parametrize(
    "query", ["Zoë Ñúñez", "zoe nunez", "Nunez, Zoe", "ÑÚÑEZ ZOË", "nunez zoe", "Ñunez, Zo"]
)
def test_accents_in_the_stored_name_need_not_be_typed(app, ctx, named, query):
    assert _everywhere(named, query) == _expect(named, "Ñúñez")


@pytest.mark.parametrize("query", ["amelie dubois-lefevre", "Dubois-Lefèvre, Amélie", "lefevre"])
def test_hyphenated_names_are_found_whole_or_in_part(app, ctx, named, query):
    assert _everywhere(named, query) == _expect(named, "Dubois-Lefèvre")


def test_numbers_and_emails_are_found_in_any_case(app, ctx, named):
    jamal = named["jamal"]

    assert _everywhere(named, jamal.number.lower()) == _expect(named, "Silva")
    assert _everywhere(named, jamal.email.upper()) == _expect(named, "Silva")


@pytest.mark.parametrize("query", ["Jamal Zoë", "Silva Ñúñez", "%", "_"])
def test_words_of_two_people_or_wildcards_find_nobody(app, ctx, named, query):
    found = _everywhere(named, query)

    assert found == {name: set() for name in found}


def test_a_nul_character_finds_nobody_in_every_search(app, ctx, named):
    found = _everywhere(named, "Sil\x00va")

    assert found == {name: set() for name in found}


def test_a_renamed_person_is_found_by_the_new_name_only(app, ctx, named):
    admin = actor(named["admin"].user_id)
    jamal = named["jamal"]
    people.update_user(
        actor=admin,
        user_id=jamal.user_id,
        email=jamal.email,
        first_name="Jamál",
        last_name="Sousa",
        student_number=jamal.number,
    )
    db.session.remove()

    assert _everywhere(named, "Silva, Jamal") == {name: set() for name in _expect(named, "x")}
    assert _everywhere(named, "sousa jamal") == _expect(named, "Sousa")
    stored = db.session.scalar(select(User.name_search).where(User.id == jamal.user_id))
    assert stored == "jamal sousa\nsousa jamal"


def test_the_search_key_folds_case_accents_commas_and_spaces():
    assert people.fold("  Ñúñez,  Zoë ") == "nunez zoe"
    assert people.fold("STRAßE") == "strasse"
    assert people.name_search_key("Zoë", "Ñúñez") == "zoe nunez\nnunez zoe"


def test_every_person_created_has_a_search_key(app, ctx, named):
    keys = db.session.execute(
        select(User.first_name, User.last_name, User.name_search).where(User.role == Role.STUDENT)
    ).all()

    assert keys and all(key == people.name_search_key(f, last) for f, last, key in keys)
