"""Real Chromium (Debian's /usr/bin/chromium, driven by Playwright's sync API) against a real
server process (``python -m attendance_app.server`` on eventlet) on the test database.

Every page fails its test on a JavaScript error (``pageerror``) or a console error, and every
HTML page is served to the browser with the strict Content-Security-Policy the design asks for
(no inline scripts or styles), so a CSP-unfriendly page shows up as a console error too.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests import factories
from tests.factories import PASSWORD, Person
from tests.live.conftest import ServerProcess, start_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: Where screenshots go: a temporary folder, unless SCREENSHOT_DIR names one (`make
#: screenshots` points it at docs/screenshots/, the only way the README's pictures change).
SCREENSHOT_DIR = os.environ.get("SCREENSHOT_DIR", "")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
#: How long a condition may take to become true (live updates, htmx swaps, page loads).
WAIT_MS = 10_000


def csp_for(origin: str) -> str:
    """The policy of the design notes (R12): nothing inline, everything from the app itself.
    ``img-src data:`` is for Pico's inline SVG icons (select arrows); ``ws:`` is explicit
    for the Socket.IO WebSocket."""
    host = urlsplit(origin).netloc
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' ws://{host}; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'"
    )


def _chromium_path() -> str:
    path = CHROMIUM if os.path.isabs(CHROMIUM) else shutil.which(CHROMIUM)
    if not path or not os.access(path, os.X_OK):
        pytest.fail(
            f"Chromium is required for the browser tests but was not found at {CHROMIUM!r}. "
            "Install it with `apt-get install chromium` (or point CHROMIUM_PATH at a "
            "Chromium binary); Playwright cannot download its own browser here.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One headless Chromium for the whole run."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        pytest.fail("the `playwright` Python package is required: pip install -e '.[test]'")
    path = _chromium_path()
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def server(app, database_url: str) -> Iterator[ServerProcess]:
    """A real server (eventlet) on the test database, shared by the run's browser tests (as
    the browser is): its tests already share it one after another, each on an emptied
    database, and a start costs seconds of CPU. A module that needs other settings starts
    its own (test_check_in_in_browser.py). ``app`` first, so the migrations have built the
    schema before the server opens it."""
    proc = start_server(database_url, "eventlet")
    yield proc
    proc.stop()


@dataclass
class BrowserPage:
    """A page in a context of its own, and the errors it reported."""

    page: object
    context: object
    errors: list[str] = field(default_factory=list)
    #: Console errors the test provokes on purpose (e.g. a 503 it fulfils itself), as regexes.
    expected: tuple[str, ...] = ()

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(re.search(p, e) for p in self.expected)]


def _watch(page, errors: list[str]) -> None:
    def on_console(msg) -> None:
        if msg.type == "error":
            loc = msg.location or {}
            errors.append(f"console error: {msg.text} ({loc.get('url', '')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))


@pytest.fixture
def open_page(browser, server: ServerProcess) -> Iterator[Callable[..., object]]:
    """``open_page(viewport=DESKTOP, expected_errors=(), **context_options)`` → a Page in a
    fresh context (its own cookies), based at the server's URL. At teardown the test fails if
    any page logged a JavaScript or console error (CSP violations included) other than those
    matching ``expected_errors`` (regexes: errors the test provokes on purpose)."""
    opened: list[BrowserPage] = []
    policy = csp_for(server.url)

    def with_csp(route) -> None:
        if route.request.resource_type != "document":
            route.continue_()
            return
        # Not following redirects here: the browser follows them itself (and so its URL
        # is the page it ends up on).
        response = route.fetch(max_redirects=0)
        headers = {**response.headers, "content-security-policy": policy}
        route.fulfill(response=response, headers=headers)

    def make(viewport: dict | None = None, expected_errors: tuple[str, ...] = (), **options):
        # A document answered through route.fulfill has no remote address, so Chromium's
        # Local Network Access checks count it as public and would block its WebSocket to
        # 127.0.0.1; the permission restores what a page served by the server itself gets.
        context = browser.new_context(
            base_url=server.url,
            viewport=viewport or DESKTOP,
            permissions=["local-network-access"],
            **options,
        )
        context.set_default_timeout(WAIT_MS)
        context.route("**/*", with_csp)
        page = context.new_page()
        item = BrowserPage(page, context, expected=tuple(expected_errors))
        _watch(page, item.errors)
        opened.append(item)
        return page

    yield make
    errors = [e for item in opened for e in item.unexpected_errors()]
    for item in opened:
        item.context.close()
    assert not errors, "the browser reported errors:\n" + "\n".join(errors)


@pytest.fixture
def page(open_page):
    """A desktop-sized page in a fresh browser context."""
    return open_page()


def login(page, person: Person | str, password: str = PASSWORD) -> None:
    """Log in through the /login form (inputs named email and password), like a person."""
    email = person if isinstance(person, str) else person.email
    page.goto("/login")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    with page.expect_navigation():
        page.click('form button[type="submit"]')
    assert "/login" not in page.url, f"login failed for {email}: still on {page.url}"


def wait_live(page) -> None:
    """Until the page is joined to its session's live room and in sync."""
    page.wait_for_selector('body[data-live="live"]', state="attached")


_screenshots: Path | None = None


def screenshots_folder() -> Path:
    """SCREENSHOT_DIR, or one temporary folder for this test process."""
    global _screenshots
    if _screenshots is None:
        if SCREENSHOT_DIR:
            _screenshots = Path(SCREENSHOT_DIR)
            _screenshots.mkdir(parents=True, exist_ok=True)
        else:
            _screenshots = Path(tempfile.mkdtemp(prefix="attendance-screenshots-"))
    return _screenshots


def charts_settled(page) -> None:
    """Until every Chart.js chart on the page has been drawn at the width of its box, and
    the browser has painted since."""
    page.wait_for_function(
        """() => !window.Chart || Array.from(document.querySelectorAll('canvas')).every(c => {
              const chart = Chart.getChart(c);
              return !chart || Math.abs(chart.width - c.parentNode.clientWidth) < 2;
           })"""
    )
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot as <name>.png in screenshots_folder() and return its path.

    A full page is shot in a viewport as tall as the page, once the charts have redrawn in
    it: Chromium's own full-page capture resizes the viewport under Chart.js, which could
    catch a chart mid-redraw."""
    path = screenshots_folder() / f"{name}.png"
    # caret="initial": hiding the caret would leave style="" on every input, which htmx's
    # settle copies onto the swapped-in element (an inline style, refused by the CSP).
    if not full_page:
        page.screenshot(path=str(path), animations="disabled", caret="initial")
        return path
    size = page.viewport_size
    height = page.evaluate("() => Math.ceil(document.documentElement.scrollHeight)")
    page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
    charts_settled(page)
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="initial")
    page.set_viewport_size(size)
    charts_settled(page)
    return path


def assert_no_horizontal_overflow(page) -> None:
    """Nothing on the page is wider than the viewport (no sideways scrolling)."""
    viewport = page.viewport_size["width"]
    wide = page.evaluate(
        """(limit) => Array.from(document.body.querySelectorAll('*'))
              .filter(el => el.getBoundingClientRect().right > limit + 0.5 &&
                            getComputedStyle(el).visibility !== 'hidden' &&
                            el.getClientRects().length)
              .map(el => el.tagName + (el.id ? '#' + el.id : '') + '.' + el.className +
                         ' ' + Math.round(el.getBoundingClientRect().right))""",
        viewport,
    )
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= viewport and not wide, (
        f"the page is {width}px wide in a {viewport}px viewport; past its edge: {wide[:8]}"
    )


def api_get(server: ServerProcess, token: str, path: str) -> dict:
    response = requests.get(
        f"{server.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def api_post(server: ServerProcess, token: str, path: str, body: dict) -> requests.Response:
    return requests.post(
        f"{server.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def api_put(server: ServerProcess, token: str, path: str, body: dict) -> requests.Response:
    return requests.put(
        f"{server.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


# The roster page ---------------------------------------------------------------

NAMES = [
    ("Amara", "Okafor"),
    ("Benjamin", "Lindqvist"),
    ("Chloé", "Durand"),
    ("Dmitri", "Volkov"),
    ("Esperanza", "Delgado-Fitzgerald"),
    ("Farah", "Haddad"),
]
STAT_KEYS = ["total_enrolled", "present", "absent", "late", "not_marked", "attendance_rate"]


def make_roster(app):
    """An admin, a class of six named students taught by a teacher, and an ACTIVE session."""
    admin = factories.make_admin(app, first_name="Ada", last_name="Admin")
    teacher = factories.make_teacher(app, first_name="Grace", last_name="Hopper")
    students = [
        factories.make_student(app, first_name=first, last_name=last, with_token=False)
        for first, last in NAMES
    ]
    klass = factories.make_class(
        app,
        admin=admin,
        teacher=teacher,
        students=students,
        subject_code="MATH101",
        name="MATH101 Section A",
    )
    session_id = factories.make_session(app, klass)
    return admin, klass, session_id


def cell(page, student):
    return page.locator(f'#roster-grid [data-student-id="{student.profile_id}"]')


def page_stats(page) -> dict:
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('[data-stat]'))
              .map(el => [el.dataset.stat, el.textContent.trim()]))"""
    )


def settled(page) -> None:
    """Until htmx has no request in flight and no swap pending."""
    page.wait_for_function(
        "() => window.htmx && !document.querySelector('.htmx-request, .htmx-swapping, "
        ".htmx-settling, [disabled].cell-tap')"
    )


def expect_stats(page, **expected) -> None:
    """Wait until the page's data-stat numbers are ``expected`` (rate compared as a number)."""
    page.wait_for_function(
        """(want) => Object.entries(want).every(([key, value]) => {
              const el = document.querySelector(`[data-stat="${key}"]`);
              return el && Number(el.textContent.trim()) === Number(value);
           })""",
        arg=expected,
    )


def api_view(server, person, session_id) -> dict:
    return api_get(server, person.token, f"/api/attendance/session/{session_id}/")


def assert_api_agrees(server, person, session_id, page) -> dict:
    """The JSON API's statistics and records say what the page shows."""
    view = api_view(server, person, session_id)
    shown = page_stats(page)
    assert {k: float(shown[k]) for k in STAT_KEYS} == {
        k: float(view["statistics"][k]) for k in STAT_KEYS
    }
    api_status = {r["student"]["id"]: r["status"] for r in view["records"]}
    page_status = page.evaluate(
        """() => Object.fromEntries(
              Array.from(document.querySelectorAll('#roster-grid [data-student-id]'))
                .map(c => [c.dataset.studentId, c.dataset.status]))"""
    )
    assert {sid: status for sid, status in page_status.items() if status} == api_status
    return view


def open_roster(page, person, session_id) -> None:
    login(page, person)
    page.goto(f"/sessions/{session_id}")
    wait_live(page)
