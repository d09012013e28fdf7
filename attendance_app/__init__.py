"""Attendance: live classroom attendance on Flask, htmx and Flask-SocketIO."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build an app: settings from the environment, then ``config`` overrides (tests)."""
    # Imported here, not at the top: `python -m attendance_app.server` imports this package
    # before server.py runs, and server.py must monkey-patch (eventlet/gevent) before
    # threading, ssl, socket or any library is imported. Keep this module's top import-free.
    import logging
    import warnings

    from attendance_app.config import load_config
    from attendance_app.cookie_session import CookieSessionInterface
    from attendance_app.database import configure_engine
    from attendance_app.extensions import csrf, db, login_manager, migrate, socketio
    from attendance_app.flask_app import App
    from attendance_app.json_provider import OrjsonProvider
    from attendance_app.templating import Environment

    app = App(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    # Before anything reads app.jinja_env (the extensions' init_app do): Flask builds it then.
    app.jinja_environment = Environment
    app.config.update(load_config(app.instance_path, config))
    app.session_interface = CookieSessionInterface()
    app.json = OrjsonProvider(app)
    # Flask >= 2.3 ignores JSON_SORT_KEYS; its JSON provider's flag keeps the contract's order.
    app.json.sort_keys = app.config.get("JSON_SORT_KEYS", True)
    os.makedirs(app.instance_path, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    db.init_app(app)
    # render_as_batch: SQLite cannot ALTER most things; batch mode recreates the table.
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    # eventlet's deprecation is known and documented (README, "Which async mode"): no banner
    # on every CLI command.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    # The socket handlers are declared before the first init_app, so Flask-SocketIO keeps
    # them and gives them to every server it makes; declared after it, they would go to the
    # first app's server only and a second app in the process (tests, the CLI) would have none.
    from attendance_app.live import handlers  # noqa: F401
    from attendance_app.live.packet import JsonPacket

    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        message_queue=app.config["SOCKETIO_MESSAGE_QUEUE"],
        channel=app.config["SOCKETIO_CHANNEL"],
        # Same-origin only (the default): another site cannot open a socket with our cookie.
        cors_allowed_origins=None,
        # Our payloads are never binary: the packets skip python-socketio's walk for bytes.
        serializer=JsonPacket,
    )

    if app.config.get("PROXY_COUNT"):
        # Behind nginx: believe its X-Forwarded-For/-Proto (the client's address for login
        # throttling, https for HSTS and secure cookies). Wraps Socket.IO's middleware too.
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]

    with app.app_context():
        configure_engine(db.engine)

    from attendance_app.services import events
    from attendance_app.services.notifying import alerts, guardian_digest

    events.install(db.session)
    # Alerts are decided in the transaction of the mark that causes them.
    events.handle_in_transaction(alerts.on_events)
    # An excuse takes its lesson out of a guardian's email not yet sent.
    events.handle_in_transaction(guardian_digest.on_events)

    from attendance_app import api, cli, live, web

    api.init_app(app)
    web.init_app(app)
    live.init_app(app)
    cli.register(app)
    return app
