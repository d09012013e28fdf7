"""/api/openapi.json (built by apispec from the views' docstrings) and /api/docs (Swagger UI)."""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.yaml_utils import load_yaml_from_docstring
from flask import Flask, current_app, jsonify
from flask_swagger_ui import get_swaggerui_blueprint

from attendance_app.api import PUBLIC_ENDPOINTS, bp
from attendance_app.api.spec_bodies import SCHEMAS, body_schema

DESCRIPTION = """Attendance's JSON API. Authenticate with `POST /api/auth/token/`, then send
`Authorization: Bearer <token>` (the scheme word `Token` works too). Errors use Django REST
Framework's shapes: `{"field": ["message"]}`, `{"non_field_errors": [...]}`, and
`{"detail": "..."}` for 401, 403, 404 and 405. Every request is all-or-nothing."""


def build_spec(app: Flask) -> dict:
    """The OpenAPI 3 document of every /api/ route, from the view docstrings."""
    spec = APISpec(
        title="Attendance API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": DESCRIPTION},
        security=[{"bearer": []}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, component=schema)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith("api.") or rule.endpoint == "api.openapi_json":
            continue
        view = app.view_functions[rule.endpoint]
        operations = load_yaml_from_docstring(view.__doc__ or "") or {}
        path = _openapi_path(rule.rule)
        for method, operation in operations.items():
            _add_common_responses(operation, public=rule.endpoint in PUBLIC_ENDPOINTS)
            _add_body_schemas(operation, path=path, method=method)
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _add_body_schemas(operation: dict, *, path: str, method: str) -> None:
    """The contract's JSON body for each answer that has one (spec_bodies.py)."""
    for code, response in operation.get("responses", {}).items():
        schema = body_schema(path, method, str(code))
        if schema is not None and isinstance(response, dict) and "content" not in response:
            response["content"] = {"application/json": {"schema": schema}}


#: Answers any operation can give, whatever its docstring lists (contract, Conventions and
#: Security): no or a bad token, a malformed or bad value, a body over 1 MiB.
COMMON_RESPONSES = {
    "401": "Authentication credentials were not provided (no, bad or expired token).",
    "400": "Malformed request body, or a bad value (DRF field errors).",
    "413": "Request body too large.",
}


def _add_common_responses(operation: dict, *, public: bool) -> None:
    responses = operation.setdefault("responses", {})
    keys = {str(code) for code in responses}
    for code, description in COMMON_RESPONSES.items():
        if code == "401" and public:
            continue
        if code == "413" and "requestBody" not in operation:
            continue
        if code not in keys:
            responses[code] = {"description": description}


def _openapi_path(rule: str) -> str:
    """``/api/sessions/<uuid:session_id>/`` → ``/api/sessions/{session_id}/``."""
    out, i = [], 0
    while i < len(rule):
        if rule[i] == "<":
            j = rule.index(">", i)
            out.append("{" + rule[i + 1 : j].split(":")[-1] + "}")
            i = j + 1
        else:
            out.append(rule[i])
            i += 1
    return "".join(out)


@bp.get("/openapi.json", endpoint="openapi_json")
def openapi_json():
    spec = current_app.extensions.get("attendance_openapi")
    if spec is None:
        spec = current_app.extensions["attendance_openapi"] = build_spec(current_app)
    return jsonify(spec)


def register_docs(app: Flask) -> None:
    """Swagger UI, served from the flask-swagger-ui package's vendored copy."""
    app.register_blueprint(
        get_swaggerui_blueprint(
            "/api/docs",
            "/api/openapi.json",
            config={"app_name": "Attendance API"},
            blueprint_name="api_docs",
        )
    )
