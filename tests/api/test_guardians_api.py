"""/api/students/{student_id}/guardians/: the contract's bodies, codes and order of checks."""

from __future__ import annotations

import uuid

import pytest

FORBIDDEN = {"detail": "You do not have permission to perform this action."}
MARY = {"name": "Mary Doe", "email": "mary@home.test", "relationship": "Mother"}


def url(student, guardian_id=None) -> str:
    sid = getattr(student, "profile_id", student)
    return f"/api/students/{sid}/guardians/" + (f"{guardian_id}/" if guardian_id else "")


def test_an_admin_adds_lists_and_deletes_a_guardian(api_as, test101):
    admin, john = test101.admin, test101.john
    api = api_as(admin)

    created = api.post(url(john), json=MARY)

    assert created.status_code == 201, created.json
    body = created.json
    assert set(body) == {"id", "name", "email", "relationship", "notify"}
    assert {k: body[k] for k in MARY} == MARY and body["notify"] is True
    listed = api.get(url(john))
    assert listed.status_code == 200 and listed.json == [body]
    gone = api.delete(url(john, body["id"]))
    assert gone.status_code == 204
    assert api.get(url(john)).json == []


def test_notify_false_is_kept(api_as, test101):
    admin, john = test101.admin, test101.john

    created = api_as(admin).post(url(john), json={**MARY, "notify": False})

    assert created.status_code == 201 and created.json["notify"] is False


def test_anyone_else_is_forbidden(api_as, test101):
    admin, teacher, john = test101.admin, test101.teacher, test101.john
    gid = api_as(admin).post(url(john), json=MARY).json["id"]

    for who in (teacher, john):
        api = api_as(who)
        assert (api.get(url(john)).status_code, api.get(url(john)).json) == (403, FORBIDDEN)
        assert api.post(url(john), json=MARY).status_code == 403
        assert api.delete(url(john, gid)).status_code == 403


def test_an_unknown_student_or_guardian_is_404(api_as, test101):
    admin, john = test101.admin, test101.john
    api = api_as(admin)

    assert api.get(url(uuid.uuid4())).status_code == 404
    assert api.get(url(uuid.uuid4())).json == {"detail": "Student not found."}
    assert api.post(url(uuid.uuid4()), json=MARY).status_code == 404
    missing = api.delete(url(john, uuid.uuid4()))
    assert (missing.status_code, missing.json) == (404, {"detail": "Guardian not found."})


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {f: ["This field is required."] for f in ("name", "email", "relationship")}),
        ({**MARY, "email": "nope"}, {"email": ["Enter a valid email address."]}),
        (
            {**MARY, "name": "Mary\nBcc: x@evil.test"},
            {"name": ["Line breaks and other control characters are not allowed."]},
        ),
        (
            {**MARY, "relationship": "R" * 51},
            {"relationship": ["Ensure this field has no more than 50 characters."]},
        ),
        ({**MARY, "notify": "maybe"}, {"notify": ["Must be a valid boolean."]}),
    ],
)
def test_a_bad_body_is_400_on_its_fields(api_as, test101, body, errors):
    admin, john = test101.admin, test101.john

    resp = api_as(admin).post(url(john), json=body)

    assert (resp.status_code, resp.json) == (400, errors)


def test_the_same_email_twice_is_400_on_email(api_as, test101):
    admin, john = test101.admin, test101.john
    api_as(admin).post(url(john), json=MARY)

    resp = api_as(admin).post(url(john), json={**MARY, "email": "MARY@home.test"})

    assert resp.status_code == 400
    assert resp.json == {"email": ["This student already has a guardian with this email."]}
