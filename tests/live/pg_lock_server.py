"""A server exactly like ``python -m attendance_app.server`` plus two test-only routes: one
whose query waits for an advisory lock the test holds, one that runs a trivial query. While
the first waits in PostgreSQL, the second is answered only if a database call yields to
other green threads; a process whose call stalls cannot answer it until the lock is freed.

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

    @app.get("/_test/pg-wait-for-lock/<int:key>")
    def pg_wait_for_lock(key: int):
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        return "locked"

    @app.get("/_test/pg-query")
    def pg_query():
        db.session.execute(text("SELECT 1"))
        return "answered"

    return server.SERVERS[server.ASYNC_MODE](app, socketio, args.host, args.port)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
