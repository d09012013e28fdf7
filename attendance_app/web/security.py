"""Security headers on every response: a strict Content Security Policy and friends.

The pages have no inline scripts or styles (htmx's inline indicator styles are turned off in
base.html), so scripts, styles and connections are same-origin only. Safari does not treat
``'self'`` as covering WebSockets, so the page's own ws/wss origin is named explicitly.
Swagger UI (/api/docs) ships an inline bootstrap script, so it gets no script policy, but it
may not be framed either. Everything but static files is ``Cache-Control: no-store`` (pages,
JSON and CSV carry people's records; a shared or back-button cache must not keep them), and
HSTS is sent when the request came over HTTPS.

Every response passes through here, so the headers are built once (per host, for the page
policy) and added in one pass over the response's headers: werkzeug's ``setdefault`` raises
and catches an exception for each header that is missing, i.e. for every one of ours.
"""

from __future__ import annotations

from functools import lru_cache

from flask import Flask, Response, request

#: A header to add unless the view set its own: (name, lower-case name, value).
_Header = tuple[str, str, str]


def content_security_policy(host: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' ws://{host} wss://{host}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


#: One year, this host and its subdomains (sent only over HTTPS, as RFC 6797 requires).
HSTS = "max-age=31536000; includeSubDomains"


def _header(name: str, value: str) -> _Header:
    return (name, name.lower(), value)


#: Every response, in this order, unless the view set them.
_EVERY: tuple[_Header, ...] = (
    _header("X-Content-Type-Options", "nosniff"),
    _header("Referrer-Policy", "same-origin"),
)
_NO_FRAMING = _header("X-Frame-Options", "DENY")
#: Swagger UI: no script policy (its bootstrap script is inline), but never framed.
_DOCS: tuple[_Header, ...] = (
    *_EVERY,
    _header("Content-Security-Policy", "frame-ancestors 'none'"),
    _NO_FRAMING,
)
_HSTS = _header("Strict-Transport-Security", HSTS)


@lru_cache(maxsize=32)
def _page_headers(host: str) -> tuple[_Header, ...]:
    """A page's headers for ``host`` (the policy names the page's own socket origin). A
    few hosts serve the app, so the cache stays small; an unknown Host only costs a miss."""
    return (*_EVERY, _header("Content-Security-Policy", content_security_policy(host)), _NO_FRAMING)


def _is_static(endpoint: str | None) -> bool:
    endpoint = endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def _secure(response: Response) -> Response:
    req = request._get_current_object()  # type: ignore[attr-defined]  # one lookup, not four
    headers = response.headers
    present = {name.lower() for name, _ in headers}
    if req.path.startswith("/api/docs"):
        wanted = _DOCS
    elif response.mimetype == "text/html":
        wanted = _page_headers(req.host)
    else:
        wanted = _EVERY
    for name, lower, value in wanted:
        if lower not in present:
            headers.add(name, value)
    if not _is_static(req.endpoint):
        headers["Cache-Control"] = "no-store"
    if req.is_secure and _HSTS[1] not in present:
        headers.add(_HSTS[0], _HSTS[2])
    return response


def init_app(app: Flask) -> None:
    app.after_request(_secure)
