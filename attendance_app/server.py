"""The production server: pages, API and Socket.IO in one process, on eventlet or gevent.

``python -m attendance_app.server --host 127.0.0.1 --port 5000`` (what ``flask serve`` runs).
``SOCKETIO_ASYNC_MODE`` picks the green-thread library: ``eventlet`` (default) or ``gevent``.
SIGTERM or Ctrl-C stops accepting, lets requests in flight finish (at most ``GRACE_SECONDS``),
disconnects Socket.IO clients (their browsers reconnect to the next server) and exits 0.
"""

# Monkey-patching must happen before socket, ssl, threading or any library is imported,
# so it comes first; the package ``__init__`` (imported before this module) imports nothing.
import os

ASYNC_MODE = os.environ.get("SOCKETIO_ASYNC_MODE", "eventlet")
if ASYNC_MODE == "eventlet":
    # psycopg 3 only detects gevent's patching; under eventlet it would wait for PostgreSQL
    # in C and stall every green thread (measured: two concurrent 0.5 s queries take 1.0 s).
    # Its select()-based wait goes through eventlet's green select and yields (0.5 s).
    # tests/live/test_postgres_concurrency.py proves both: another request is answered while
    # a query waits in PostgreSQL with wait_select, and not with psycopg's C wait.
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

    # Known and documented (README, "Which async mode"); not worth a banner on every start.
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()
elif ASYNC_MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

#: How long requests in flight get to finish after SIGTERM / Ctrl-C.
GRACE_SECONDS = 10.0
#: Most simultaneous connections of one process (each Socket.IO client holds one), unless
#: the ``MAX_CONNECTIONS`` environment variable says otherwise. Beyond it, clients wait in
#: the listen backlog. A held connection costs ~70 kB (docs/PERFORMANCE.md, "3,000
#: connections in one process"): 5,000 is ~350 MiB.
DEFAULT_MAX_CONNECTIONS = 5000
#: File descriptors the process keeps for itself beyond its connections (database, Redis,
#: log files, the listener).
SPARE_FILES = 100
#: Idle keep-alive connections are closed after this long (eventlet; nginx uses 75 s too).
KEEPALIVE_SECONDS = 75

log = logging.getLogger("attendance.server")
access_log = logging.getLogger("attendance.access")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m attendance_app.server",
        description="Serve Attendance (pages, API, Socket.IO) on eventlet or gevent.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000, help="0 picks a free port")
    return parser.parse_args(argv)


def max_connections() -> int:
    """``MAX_CONNECTIONS`` from the environment (a positive whole number), else the default."""
    raw = os.environ.get("MAX_CONNECTIONS", "").strip()
    if not raw:
        return DEFAULT_MAX_CONNECTIONS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"MAX_CONNECTIONS={raw!r}: expected a positive whole number")
    return value


def allow_open_files(connections: int) -> int:
    """Raise the process's soft limit on open files (often 1,024) towards what ``connections``
    need, within the hard limit; the connections it then allows (warned if fewer)."""
    try:
        import resource
    except ImportError:  # not on POSIX: nothing to raise
        return connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + SPARE_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
            soft = new_soft
    if soft != resource.RLIM_INFINITY and soft < wanted:
        allowed = max(1, soft - SPARE_FILES)
        log.warning(
            "MAX_CONNECTIONS=%d but the process may open only %d files (ulimit -n):"
            " at most %d connections will be accepted",
            connections,
            soft,
            allowed,
        )
        return allowed
    return connections


def no_delay(listener: socket.socket) -> socket.socket:
    """Send each response as it is written: TCP_NODELAY on the listener, which Linux gives
    every connection it accepts.

    Without it, a response written in more than one send (the servers write the headers,
    then the body, in pieces) can hold its last small segment until the client acknowledges
    the previous one, and clients delay that acknowledgement by up to 40 ms: a 17 kB history
    page took 48 ms at the median with the server idle meanwhile (docs/PERFORMANCE.md).
    """
    if listener.family in (socket.AF_INET, socket.AF_INET6):
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listener


def url_for_address(address: tuple) -> str:
    host, port = address[0], address[1]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


class GraceOver(BaseException):
    """Thrown into the main greenlet when requests are still running after the grace period:
    the server stops waiting for them and the process exits (their sockets close with it)."""


class Shutdown:
    """The shutdown steps both servers share."""

    def __init__(self, socketio, main_greenlet) -> None:
        self.socketio = socketio
        self.main = main_greenlet
        self.requested = False
        self.hurry = False
        self.server_returned = False

    def request(self, signum: int) -> bool:
        """Record a signal; True the first time. A second one cuts the grace period short."""
        name = signal.Signals(signum).name
        if self.requested:
            log.warning("%s again: not waiting any longer for requests in flight", name)
            self.hurry = True
            return False
        self.requested = True
        log.info("%s received: shutting down", name)
        return True

    def disconnect_clients(self) -> None:
        """Close every Socket.IO connection of this process (an Engine.IO close, so the
        browsers reconnect, to the next server, and resync) and stop Socket.IO's tasks."""
        server = self.socketio.server
        if server is None:
            return
        count = len(server.eio.sockets)
        try:
            server.eio.disconnect()
            server.shutdown()
        except Exception:
            log.exception("disconnecting Socket.IO clients failed")
        if count:
            log.info("disconnected %d Socket.IO client(s)", count)

    def finish(self, busy, sleep, throw) -> None:
        """Let requests in flight (``busy()`` of them) finish within the grace period; then
        stop waiting for the rest (``throw(main, GraceOver)``)."""
        deadline = time.monotonic() + GRACE_SECONDS
        while busy() and not self.hurry and time.monotonic() < deadline:
            sleep(0.05)
        left = busy()
        if left and not self.server_returned:
            log.warning("%d connection(s) still open: closing them and exiting", left)
            throw(self.main, GraceOver)


def serve_forever(serve, shutdown: Shutdown) -> int:
    with contextlib.suppress(GraceOver):
        serve()
    shutdown.server_returned = True
    stop_thread_pools()
    log.info("stopped")
    return 0


def stop_thread_pools() -> None:
    """End the OS threads password hashing ran in (services/school/passwords.py): idle ones
    would otherwise keep the process alive for seconds after the server stopped."""
    with contextlib.suppress(Exception):
        if ASYNC_MODE == "eventlet":
            from eventlet import tpool

            tpool.killall()
        elif ASYNC_MODE == "gevent":
            import gevent

            gevent.get_hub().threadpool.kill()


# --- eventlet ---------------------------------------------------------------------------------


def serve_eventlet(
    app, socketio, host: str, port: int, max_conns: int = DEFAULT_MAX_CONNECTIONS
) -> int:
    """eventlet.wsgi.server, as Flask-SocketIO's ``socketio.run`` starts it, minus debug."""
    import eventlet.wsgi
    from eventlet import greenthread
    from eventlet.green import socket as green_socket

    addresses = green_socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not addresses:
        raise RuntimeError(f"Cannot resolve {host!r}")
    listener = no_delay(eventlet.listen(addresses[0][4], addresses[0][0]))
    pool = eventlet.GreenPool(max_conns)
    shutdown = Shutdown(socketio, greenthread.getcurrent())

    def run_shutdown() -> None:
        # Clients first: once wsgi.server stops, it cuts every WebSocket (it counts them as
        # idle), which reaches the browser as a transport error rather than a close. They
        # reconnect after a second or so, and by then nothing accepts any more.
        shutdown.disconnect_clients()
        # SystemExit thrown into its accept() makes wsgi.server stop accepting, close idle
        # keep-alive connections, mark busy ones to close after their response, and wait
        # for its pool; the listener is closed at once so new connections are refused.
        greenthread.kill(shutdown.main, SystemExit)
        listener.close()
        shutdown.finish(pool.running, eventlet.sleep, greenthread.kill)

    def watch_signals() -> None:
        # A Python signal handler cannot safely wake eventlet's hub, so the handler only
        # sets a flag and this greenthread, waking five times a second, acts on it.
        while not shutdown.requested:
            eventlet.sleep(0.2)
        run_shutdown()

    def on_signal(signum, _frame) -> None:
        shutdown.request(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    eventlet.spawn(watch_signals)

    announce(listener.getsockname())
    return serve_forever(
        lambda: eventlet.wsgi.server(
            listener,
            app,
            log=access_log,
            log_output=True,
            custom_pool=pool,
            keepalive=KEEPALIVE_SECONDS,
            debug=False,  # no tracebacks in responses
        ),
        shutdown,
    )


# --- gevent -----------------------------------------------------------------------------------


def gevent_handler_class():
    """gevent-websocket's handler if installed (as ``socketio.run`` does); otherwise pywsgi's
    own, with which engineio serves WebSockets through simple-websocket."""
    try:
        from geventwebsocket.handler import WebSocketHandler as base
    except ImportError:
        from gevent.pywsgi import WSGIHandler as base

    class DrainingHandler(base):
        """Knows which connections are waiting for their next request, so that a shutdown
        closes those at once instead of waiting for them."""

        def read_requestline(self):
            import gevent

            server = self.server
            if server.draining:
                return ""  # keep-alive ends: the connection closes after its last response
            server.idle[self] = gevent.getcurrent()
            try:
                return super().read_requestline()
            finally:
                server.idle.pop(self, None)

        def handle_one_response(self):
            try:
                super().handle_one_response()
            finally:
                if is_websocket_request(self.environ):
                    self.end_connection()

        def end_connection(self) -> None:
            """End a connection whose WebSocket is over, at once, as eventlet does.

            simple-websocket speaks WebSocket on a duplicate of the connection's socket, so
            pywsgi, seeing no response, would keep the connection for a next request and
            read the client's closing frame as one: the client, waiting for the server's
            answer to that frame, hung for its timeout (websocket-client: 3 s) on every
            disconnect. ``shutdown`` ends the connection whichever descriptor is still open.
            """
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.socket.shutdown(socket.SHUT_RDWR)

    return DrainingHandler


def is_websocket_request(environ: dict) -> bool:
    """Whether a request asked to become a WebSocket (``Upgrade: websocket``)."""
    return environ.get("HTTP_UPGRADE", "").lower() == "websocket"


def serve_gevent(
    app, socketio, host: str, port: int, max_conns: int = DEFAULT_MAX_CONNECTIONS
) -> int:
    """gevent.pywsgi.WSGIServer, as Flask-SocketIO's ``socketio.run`` starts it."""
    import gevent
    from gevent.pool import Pool
    from gevent.pywsgi import WSGIServer

    server = WSGIServer(
        (host, port),
        app,
        spawn=Pool(max_conns),
        handler_class=gevent_handler_class(),
        log=access_log,
        error_log=log,
    )
    server.init_socket()
    no_delay(server.socket)
    server.draining = False
    server.idle = {}
    # serve_forever() ends by waiting this long for the pool; Shutdown.finish decides sooner.
    server.stop_timeout = GRACE_SECONDS + 5
    shutdown = Shutdown(socketio, gevent.getcurrent())

    def run_shutdown() -> None:
        server.draining = True
        server.close()  # stop accepting and close the listener; serve_forever() waits
        for greenlet in list(server.idle.values()):
            greenlet.kill(block=False)  # waiting for a next request that will not come
        shutdown.disconnect_clients()
        shutdown.finish(lambda: len(server.pool), gevent.sleep, gevent.kill)

    def on_signal(signum: int) -> None:
        if shutdown.request(signum):
            run_shutdown()

    for signum in (signal.SIGTERM, signal.SIGINT):
        # gevent runs the callback in a new greenlet when the signal arrives.
        gevent.signal_handler(signum, on_signal, signum)

    server.init_socket()
    announce(server.socket.getsockname())
    return serve_forever(server.serve_forever, shutdown)


SERVERS = {"eventlet": serve_eventlet, "gevent": serve_gevent}


def announce(address: tuple) -> None:
    print(
        f"Attendance ({ASYNC_MODE}) listening on {url_for_address(address)}"
        " - stop with Ctrl-C or SIGTERM",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Build the app and serve it until SIGTERM / Ctrl-C; the process exit code."""
    args = parse_args(argv)
    if ASYNC_MODE not in SERVERS:
        print(
            f"SOCKETIO_ASYNC_MODE={ASYNC_MODE!r}: the server runs on 'eventlet' or 'gevent' "
            "(threading is for tests only)",
            file=sys.stderr,
        )
        return 2

    try:
        max_conns = max_connections()
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2

    from attendance_app import create_app
    from attendance_app.extensions import socketio

    app = create_app({"SERVER_GREEN": True})
    from attendance_app import tasks

    try:
        tasks.start(app)
    except ValueError as err:  # a setting the tasks cannot run with: say which, plainly
        print(err, file=sys.stderr)
        return 2
    if app.config["ENV_NAME"] == "production" and not app.config["SESSION_COOKIE_SECURE"]:
        log.warning(
            "SESSION_COOKIE_SECURE is off: login cookies also travel over plain HTTP."
            " Behind HTTPS, set SESSION_COOKIE_SECURE=true."
        )
    from attendance_app.services.school.passwords import warm_up

    with app.app_context():
        warm_up()  # the first failed login then costs one hash, like every other
    if not app.config.get("MAIL_SERVER"):
        log.info("MAIL_SERVER is not set: alerts stay in the app, no email is sent")
    if app.config["SOCKETIO_ASYNC_MODE"] != ASYNC_MODE:
        raise RuntimeError("the app's SOCKETIO_ASYNC_MODE differs from the server's")
    max_conns = allow_open_files(max_conns)
    log.info("holding at most %d connections", max_conns)
    from attendance_app import heap

    heap.settle()  # last: what start-up built is frozen out of every later collection
    return SERVERS[ASYNC_MODE](app, socketio, args.host, args.port, max_conns)


if __name__ == "__main__":
    sys.exit(main())
