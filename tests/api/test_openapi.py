"""/api/openapi.json describes every API route; /api/docs/ serves Swagger UI."""

from __future__ import annotations

import re

import pytest

SPEC_URL = "/api/openapi.json"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
#: /api/ routes that are not API operations: the spec itself and the Swagger UI pages.
NOT_OPERATIONS = {"api.openapi_json"}
NOT_OPERATION_BLUEPRINTS = {"api_docs"}


def openapi_path(rule: str) -> str:
    """Flask's ``/api/sessions/<uuid:session_id>/`` → OpenAPI's ``/api/sessions/{session_id}/``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def api_operations(app) -> set[tuple[str, str]]:
    """(OpenAPI path, lower-case method) for every API route of the app."""
    ops = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in NOT_OPERATIONS:
            continue
        if rule.endpoint.split(".")[0] in NOT_OPERATION_BLUEPRINTS:
            continue
        for method in (rule.methods or set()) - IGNORED_METHODS:
            ops.add((openapi_path(rule.rule), method.lower()))
    return ops


@pytest.fixture
def spec(client) -> dict:
    resp = client.get(SPEC_URL)
    assert resp.status_code == 200
    assert resp.is_json
    return resp.json


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


def test_the_spec_is_served_without_authentication(client):
    resp = client.get(SPEC_URL)

    assert resp.status_code == 200
    assert resp.content_type.startswith("application/json")


def test_the_spec_is_openapi_3_with_title_and_version(spec):
    assert re.fullmatch(r"3\.\d+\.\d+", spec["openapi"])
    assert spec["info"]["title"]
    assert isinstance(spec["info"]["version"], str) and spec["info"]["version"]
    assert isinstance(spec["paths"], dict) and spec["paths"]


def test_openapi_path_converts_flask_converters():
    assert openapi_path("/api/a/<uuid:x>/b/<y>/") == "/api/a/{x}/b/{y}/"


def test_every_api_route_and_method_is_described(app, spec):
    described = {(path, method) for path, method, _ in operations(spec)}

    missing = api_operations(app) - described

    assert missing == set()


def test_the_spec_describes_no_route_that_does_not_exist(app, spec):
    described = {(path, method) for path, method, _ in operations(spec)}

    assert described - api_operations(app) == set()


def test_the_spec_does_not_describe_itself_or_the_docs_pages(spec):
    assert "/api/openapi.json" not in spec["paths"]
    assert not any(path.startswith("/api/docs") for path in spec["paths"])


def test_every_operation_has_a_summary_tags_and_responses(spec):
    incomplete = [
        (path, method)
        for path, method, op in operations(spec)
        if not op.get("summary") or not op.get("tags") or not op.get("responses")
    ]

    assert incomplete == []


def test_every_response_is_a_status_code_with_a_text_description(spec):
    bad = []
    for path, method, op in operations(spec):
        for code, response in op["responses"].items():
            if not re.fullmatch(r"[1-5](\d\d|XX)|default", str(code)):
                bad.append((path, method, code, "code"))
            if "$ref" in response:
                continue
            if not isinstance(response.get("description"), str):
                bad.append((path, method, code, "description"))
            # A YAML flow mapping with an unquoted comma leaks stray keys here.
            extra = set(response) - {"description", "content", "headers", "links"}
            if extra:
                bad.append((path, method, code, sorted(extra)))

    assert bad == []


def test_every_path_variable_is_a_required_path_parameter(spec):
    bad = []
    for path, method, op in operations(spec):
        declared = {
            p["name"]: p
            for p in [*spec["paths"][path].get("parameters", []), *op.get("parameters", [])]
            if p.get("in") == "path"
        }
        for name in re.findall(r"{([^}]+)}", path):
            if name not in declared or declared[name].get("required") is not True:
                bad.append((path, method, name))
        bad.extend(
            (path, method, f"extra {n}")
            for n in set(declared) - set(re.findall(r"{([^}]+)}", path))
        )

    assert bad == []


def test_parameters_have_a_location_name_and_schema(spec):
    bad = [
        (path, method, p)
        for path, method, op in operations(spec)
        for p in op.get("parameters", [])
        if p.get("in") not in {"path", "query", "header", "cookie"}
        or not p.get("name")
        or "schema" not in p
    ]

    assert bad == []


def test_every_reference_resolves(spec):
    refs: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    refs.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(spec)

    def resolve(ref: str):
        assert ref.startswith("#/"), ref
        node = spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    for ref in refs:
        assert isinstance(resolve(ref), dict), ref


def test_request_bodies_declare_json_content(spec):
    bad = [
        (path, method)
        for path, method, op in operations(spec)
        if "requestBody" in op and "application/json" not in op["requestBody"].get("content", {})
    ]

    assert bad == []


def test_token_auth_is_the_default_security_and_login_needs_none(spec):
    schemes = spec["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= next(iter(schemes.values())).items()
    for requirement in spec.get("security", []):
        assert set(requirement) <= set(schemes)
    assert spec["paths"]["/api/auth/token/"]["post"]["security"] == []


def test_operations_that_need_a_body_declare_one(spec):
    for path, method in [
        ("/api/auth/token/", "post"),
        ("/api/users/", "post"),
        ("/api/subjects/", "post"),
        ("/api/classes/", "post"),
        ("/api/classes/{class_id}/enrollments/", "post"),
        ("/api/sessions/", "post"),
    ]:
        assert "requestBody" in spec["paths"][path][method], (path, method)


def test_the_spec_passes_the_openapi_validator(spec):
    from openapi_spec_validator import validate  # a test dependency (setup.cfg [test])

    validate(spec)


# --- Swagger UI -------------------------------------------------------------------------------


def test_the_docs_page_is_swagger_ui_pointing_at_the_spec(client):
    resp = client.get("/api/docs/")

    assert resp.status_code == 200
    assert resp.content_type.startswith("text/html")
    page = resp.get_data(as_text=True)
    assert "swagger-ui" in page.lower()
    assert SPEC_URL in page


def test_the_docs_page_needs_no_authentication_and_redirects_without_slash(client):
    resp = client.get("/api/docs")

    assert resp.status_code in {301, 308}
    assert resp.headers["Location"].endswith("/api/docs/")


def test_the_docs_pages_assets_are_served(client):
    page = client.get("/api/docs/").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="(/api/docs/[^"?#]+)"', page)

    assert any(a.endswith(".js") for a in assets)
    assert any(a.endswith(".css") for a in assets)
    for asset in assets:
        resp = client.get(asset)
        assert resp.status_code == 200, asset
        assert len(resp.data) > 0, asset


def test_the_swagger_ui_bundle_is_javascript(client):
    resp = client.get("/api/docs/swagger-ui-bundle.js")

    assert resp.status_code == 200
    assert "javascript" in resp.content_type
    assert len(resp.data) > 100_000
