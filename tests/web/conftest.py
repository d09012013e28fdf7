"""Browser-edge helpers: real form logins with CSRF, and a small HTML reader for the hooks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import (
    PASSWORD,
    Person,
)

_META_TOKEN = re.compile(r'<meta\s+name="csrf-token"\s+content="([^"]+)"')
_INPUT_TOKEN = re.compile(r'<input\b[^>]*\bname="csrf_token"[^>]*\bvalue="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token a page carries (its ``<meta name="csrf-token">`` or hidden input)."""
    found = _META_TOKEN.search(html) or _INPUT_TOKEN.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def login_as(client: FlaskClient, person: Person, *, next_url: str | None = None):
    """Log ``person`` in through the real form (GET for the token, then POST); the response."""
    page = client.get("/login")
    assert page.status_code == 200
    query = {"next": next_url} if next_url is not None else None
    return client.post(
        "/login",
        query_string=query,
        data={"email": person.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
    )


def htmx_headers(page_html: str) -> dict[str, str]:
    """What htmx sends from a page: ``HX-Request`` and the page's CSRF token as a header."""
    return {"HX-Request": "true", "X-CSRFToken": csrf_from(page_html)}


# --- a small HTML reader (stdlib only) ----------------------------------------------------

_VOID = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr",
}  # fmt: skip


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    def has(self, name: str) -> bool:
        return name in self.attrs

    @property
    def text(self) -> str:
        """Text content with whitespace collapsed."""
        parts: list[str] = []

        def walk(node: Element) -> None:
            for child in node.children:
                if isinstance(child, str):
                    parts.append(child)
                else:
                    walk(child)

        walk(self)
        return " ".join("".join(parts).split())

    def iter(self) -> Iterator[Element]:
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, attrs: dict | None = None) -> list[Element]:
        """Descendants by tag and attributes (a value of True means "present")."""
        found = []
        for el in self.iter():
            if tag is not None and el.tag != tag:
                continue
            if all(
                (name in el.attrs) if want is True else el.attrs.get(name) == want
                for name, want in (attrs or {}).items()
            ):
                found.append(el)
        return found

    def find(self, tag: str | None = None, attrs: dict | None = None) -> Element | None:
        found = self.find_all(tag, attrs)
        return found[0] if found else None

    def one(self, tag: str | None = None, attrs: dict | None = None) -> Element:
        found = self.find_all(tag, attrs)
        assert len(found) == 1, f"expected one <{tag or '*'} {attrs}>, found {len(found)}"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        el = Element(tag, {k: (v if v is not None else "") for k, v in attrs})
        self.stack[-1].children.append(el)
        if tag not in _VOID:
            self.stack.append(el)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def cells(html: str) -> dict[str, Element]:
    """The roster's student elements by ``data-student-id``."""
    return {
        el.get("data-student-id"): el
        for el in parse(html).find_all(attrs={"data-student-id": True})
    }


def stats(html: str) -> dict[str, str]:
    """The ``data-stat`` elements' text by name."""
    return {el.get("data-stat"): el.text for el in parse(html).find_all(attrs={"data-stat": True})}


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def browser_as(app: Flask):
    """``browser_as(person)`` → a fresh test client logged in as that person via the form."""

    def make(person: Person) -> FlaskClient:
        client = app.test_client()
        response = login_as(client, person)
        assert response.status_code == 302, response.text
        return client

    return make
