"""Security headers on every page: a strict Content Security Policy and friends.

The pages have no inline scripts or styles (htmx's inline indicator styles are turned off in
base.html), so scripts, styles and connections are same-origin only. Safari does not treat
``'self'`` as covering WebSockets, so the page's own ws/wss origin is named explicitly.
Swagger UI (/api/docs) ships an inline bootstrap script and keeps its own rules.
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


def _secure(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html" and not request.path.startswith("/api/docs"):
        response.headers.setdefault(
            "Content-Security-Policy", content_security_policy(request.host)
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def init_app(app: Flask) -> None:
    app.after_request(_secure)
