"""Security headers on every response: a strict Content Security Policy and friends.

The pages have no inline scripts or styles (htmx's inline indicator styles are turned off in
base.html), so scripts, styles and connections are same-origin only. Safari does not treat
``'self'`` as covering WebSockets, so the page's own ws/wss origin is named explicitly.
Swagger UI (/api/docs) ships an inline bootstrap script, so it gets no script policy, but it
may not be framed either. Everything but static files is ``Cache-Control: no-store`` (pages,
JSON and CSV carry people's records; a shared or back-button cache must not keep them), and
HSTS is sent when the request came over HTTPS.
"""

from __future__ import annotations

from flask import Flask, Response, request


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


def _is_static() -> bool:
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def _secure(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.path.startswith("/api/docs"):
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        response.headers.setdefault("X-Frame-Options", "DENY")
    elif response.mimetype == "text/html":
        response.headers.setdefault(
            "Content-Security-Policy", content_security_policy(request.host)
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
    if not _is_static():
        response.headers["Cache-Control"] = "no-store"
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_secure)
