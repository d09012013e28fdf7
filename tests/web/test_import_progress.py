"""/admin/import shows progress for large files: htmx sends the forms (upload progress, then
an indeterminate bar while the server works, the button disabled meanwhile); the script and
styles are static files, as the strict CSP requires; without htmx the forms still post."""

from __future__ import annotations

import io
import re

from attendance_app.services.school.student_import import COLUMNS
from tests.factories import make_class
from tests.web.conftest import csrf_from, parse

HEADER = ",".join(COLUMNS)


def _sent_by_htmx_with_progress(form, action: str) -> None:
    assert form.get("hx-post") == action == form.get("action")
    assert form.get("hx-target") == "#main" and form.get("hx-select") == "#main"
    assert form.get("hx-disabled-elt") == "find button"
    box_id = form.get("data-progress")
    box = form.one(attrs={"id": box_id})
    assert box.has("hidden")
    assert box.one("progress").get("max") == "100"
    assert box.one(attrs={"role": "status"})


def test_the_upload_form_is_sent_by_htmx_with_a_progress_bar(app, classroom, browser_as):
    client = browser_as(classroom.admin)

    page = client.get("/admin/import")

    doc = parse(page.text)
    form = doc.one("form", {"id": "import-upload"})
    _sent_by_htmx_with_progress(form, "/admin/import/preview")
    assert form.get("hx-encoding") == "multipart/form-data"
    assert form.get("enctype") == "multipart/form-data"  # the plain post still works
    scripts = [s.get("src") for s in doc.find_all("script")]
    assert "/static/js/import.js" in scripts
    assert all(scripts), "no inline script"
    assert not doc.find_all(attrs={"style": True}), "no inline style"


def test_the_progress_script_and_styles_are_static_files(app, classroom, browser_as):
    client = browser_as(classroom.admin)

    script = client.get("/static/js/import.js")
    styles = client.get("/static/css/app.css")

    assert script.status_code == 200 and "javascript" in script.mimetype
    for hook in ("htmx:xhr:progress", "htmx:beforeRequest", "htmx:afterRequest", "data-progress"):
        assert hook in script.text
    assert 'removeAttribute("value")' in script.text  # the indeterminate state
    assert ".upload-progress" in styles.text
    script.close()
    styles.close()


def test_an_htmx_upload_gets_the_preview_with_a_confirm_form_that_shows_progress_too(
    app, classroom, browser_as
):
    make_class(app, admin=classroom.admin, teacher=classroom.teacher, students=0, name="Maths 7A")
    client = browser_as(classroom.admin)
    page = client.get("/admin/import")
    text = f"{HEADER}\nN1,Ann,One,ann@school.test,Maths 7A\n"

    preview = client.post(
        "/admin/import/preview",
        data={"csrf_token": csrf_from(page.text), "file": (io.BytesIO(text.encode()), "a.csv")},
        headers={"HX-Request": "true"},
        content_type="multipart/form-data",
    )

    assert preview.status_code == 200
    doc = parse(preview.text)
    assert doc.one("main", {"id": "main"}).find("button", {"id": "import-confirm"})
    _sent_by_htmx_with_progress(doc.one("form", {"id": "import-apply"}), "/admin/import")


def test_an_htmx_upload_with_problems_swaps_in_the_line_numbered_errors(app, classroom, browser_as):
    client = browser_as(classroom.admin)
    page = client.get("/admin/import")

    refused = client.post(
        "/admin/import/preview",
        data={
            "csrf_token": csrf_from(page.text),
            "file": (io.BytesIO(f"{HEADER}\nN1,,One,bad,Nowhere\n".encode()), "a.csv"),
        },
        headers={"HX-Request": "true"},
        content_type="multipart/form-data",
    )

    # The preview is the answer (no console error in the browser): problems beside the rows.
    assert refused.status_code == 200
    main = parse(refused.text).one("main", {"id": "main"})
    assert main.one("table", {"data-import": "errors"}).find("tr", {"data-line": "2"})


def test_an_htmx_upload_refused_outright_says_why_in_the_flash_region(app, classroom, browser_as):
    client = browser_as(classroom.admin)

    refused = client.post(
        "/admin/import/preview",
        data={"file": (io.BytesIO(b"x"), "a.csv")},  # no CSRF token (e.g. an expired page)
        headers={"HX-Request": "true"},
        content_type="multipart/form-data",
    )

    assert refused.status_code == 400
    assert refused.headers["HX-Retarget"] == "#flash"
    # The form's hx-select="#main" would select nothing in this message: it is unset.
    assert refused.headers["HX-Reselect"] == "unset"
    assert re.search(r'class="flash flash-error"', refused.text)
