"""The HTML edge (pages and htmx partials). Pages arrive with the classroom issue."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("web", __name__)


def init_app(app: Flask) -> None:
    from attendance_app.extensions import login_manager
    from attendance_app.services.people import load_user_for_login

    login_manager.user_loader(load_user_for_login)
    app.register_blueprint(bp)
