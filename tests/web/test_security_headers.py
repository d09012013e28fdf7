"""Pages are served with a strict Content Security Policy (no inline script or style)."""

from __future__ import annotations


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "connect-src 'self' ws://localhost wss://localhost" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_scripts(client):
    html = client.get("/login").text
    assert "<script>" not in html
    assert "<script src=" in html


def test_json_responses_need_no_page_policy(client):
    response = client.get("/api/openapi.json")
    assert "Content-Security-Policy" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
