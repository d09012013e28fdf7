"""The back office in a real browser: the import's progress bar on a slow upload, and adding
several students to a class in one action."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import login

pytestmark = pytest.mark.browser

#: Bytes per second the upload is throttled to, so its progress can be watched.
SLOW_UPLOAD = 40_000

# Records what the import's progress widgets show at each step of an htmx request.
WATCH = """() => {
  window.seen = [];
  function snap(step) {
    const form = document.getElementById("import-upload");
    const box = document.getElementById("upload-progress");
    if (!form || !box) { return; }
    const bar = box.querySelector("progress");
    window.seen.push({
      step: step,
      hidden: box.hidden,
      value: bar.hasAttribute("value") ? bar.value : null,
      text: box.querySelector("[role=status]").textContent,
      disabled: form.querySelector("button").disabled,
    });
  }
  document.addEventListener("htmx:xhr:progress", () => setTimeout(() => snap("progress")));
  document.addEventListener("htmx:beforeSend", () => setTimeout(() => snap("sent")));
}"""


@pytest.fixture
def maths_7a(app, classroom):
    """A class named "Maths 7A" with no students, taught by the classroom's teacher."""
    return factories.make_class(
        app, admin=classroom.admin, teacher=classroom.teacher, students=0, name="Maths 7A"
    )


def test_a_slow_upload_shows_its_progress_then_the_server_at_work(
    classroom, maths_7a, open_page, tmp_path
):
    admin = classroom.admin
    page = open_page()
    login(page, admin)
    page.goto("/admin/import")
    rows = [f"N{i:05d},First{i},Last{i},student{i}@school.test,Maths 7A" for i in range(1, 3001)]
    upload = tmp_path / "students.csv"
    upload.write_text("student_number,first_name,last_name,email,class_name\n" + "\n".join(rows))
    assert upload.stat().st_size > 3 * SLOW_UPLOAD  # seconds of upload
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": SLOW_UPLOAD},
    )
    page.evaluate(WATCH)
    expect(page.locator("#upload-progress")).to_be_hidden()

    page.set_input_files('#import-upload input[name="file"]', str(upload))
    page.click('#import-upload button[type="submit"]')

    expect(page.locator("#upload-progress")).to_be_visible()
    expect(page.locator('#import-upload button[type="submit"]')).to_be_disabled()
    expect(page.locator("#preview-heading")).to_contain_text("3000 rows", timeout=30_000)
    seen = page.evaluate("window.seen")
    partial = [s for s in seen if s["value"] is not None and 0 < s["value"] < 100]
    assert partial, seen  # a determinate bar between 0 and 100 while sending
    assert all(not s["hidden"] and s["disabled"] for s in partial)
    assert any(s["text"].startswith("Sending…") for s in partial)
    working = [s for s in seen if s["value"] is None]
    assert working and working[0]["text"] == "Checking every row…", seen


def test_an_admin_ticks_students_and_adds_them_to_a_class(app, classroom, maths_7a, open_page):
    admin, klass = classroom.admin, maths_7a
    students = [
        factories.make_student(app, last_name=last, with_token=False)
        for last in ("Quince", "Quill", "Other")
    ]
    page = open_page()
    login(page, admin)
    page.goto(f"/admin/classes/{klass.id}/students")

    page.fill('input[name="q"]', "qui")
    with page.expect_navigation():
        page.click('form[role="search"] button[type="submit"]')
    expect(page.locator("label[data-candidate-id]")).to_have_count(2)
    page.check(f'input[value="{students[0].profile_id}"]')
    page.check(f'input[value="{students[1].profile_id}"]')
    with page.expect_navigation():
        page.click('#enrol-form button[type="submit"]')

    expect(page.locator("#flash")).to_contain_text("2 student(s) added")
    expect(page.locator("tr[data-enrolled-id]")).to_have_count(2)
    expect(page.locator(".enrolled-table")).to_contain_text("Quince")
    expect(page.locator(".enrolled-table")).not_to_contain_text("Other")
