"""A server exactly like ``python -m attendance_app.server`` plus one test-only route that
runs ``SELECT pg_sleep(0.5)``: two concurrent requests take ~0.5 s when database calls yield
to other green threads, ~1 s when one call stalls the whole process.

Run as ``python -m tests.live.pg_sleep_server --port 0`` with SOCKETIO_ASYNC_MODE and
DATABASE_URL (PostgreSQL) set. Importing attendance_app.server monkey-patches first.
"""

import sys

from sqlalchemy import text

from attendance_app import server


def main(argv: list[str]) -> int:
    args = server.parse_args(argv)
    from attendance_app import create_app
    from attendance_app.extensions import db, socketio

    app = create_app({"SERVER_GREEN": True})

    @app.get("/_test/pg-sleep")
    def pg_sleep():
        db.session.execute(text("SELECT pg_sleep(0.5)"))
        return "slept"

    return server.SERVERS[server.ASYNC_MODE](app, socketio, args.host, args.port)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
