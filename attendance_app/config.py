"""Configuration, read from the environment once, in one place."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from datetime import timedelta
from pathlib import Path

ASYNC_MODES = ("eventlet", "gevent", "threading")
#: Where a server without SECRET_KEY keeps the key it generated (development and tests only).
SECRET_KEY_FILE = "secret_key"
#: The environments in which a generated key is acceptable; any other refuses to start.
GENERATED_KEY_ENVS = {"development", "test"}
#: OWASP's advice for scrypt (Password Storage Cheat Sheet, 2025): N=2^17, r=8, p=1, or the
#: same work with less memory, N=2^16, r=8, p=2 (64 MiB a hash) — this one.
DEFAULT_PASSWORD_HASH = "scrypt:65536:8:2"


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _number(name: str, default: float) -> float:
    """A number of minutes, hours or days (fractions allowed: tests use seconds' worth)."""
    value = os.environ.get(name)
    return default if value is None or not value.strip() else float(value)


def normalise_database_url(url: str) -> str:
    """Let people write the usual ``postgresql://`` URL; we drive it with psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    """Production-shaped defaults; everything that differs per deployment is an env var."""

    def __init__(self, instance_path: str) -> None:
        self.ENV_NAME = os.environ.get("ATTENDANCE_ENV", "development")
        default_db = "sqlite:///" + str(Path(instance_path) / "attendance.sqlite3")
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(
            os.environ.get("DATABASE_URL", default_db)
        )
        self.SECRET_KEY = os.environ.get("SECRET_KEY")
        self.SOCKETIO_ASYNC_MODE = os.environ.get("SOCKETIO_ASYNC_MODE", "eventlet")
        self.SOCKETIO_MESSAGE_QUEUE = os.environ.get("SOCKETIO_MESSAGE_QUEUE") or None
        # The queue's pub/sub channel: deployments sharing one Redis keep theirs apart.
        self.SOCKETIO_CHANNEL = os.environ.get("SOCKETIO_CHANNEL", "attendance-socketio")
        # Browser session cookies: HttpOnly by default; Lax so cross-site posts carry none.
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        # A browser session ends after this long without a request, and after
        # SESSION_MAX_HOURS in any case (the cookie itself lives no longer either).
        self.SESSION_IDLE_MINUTES = _number("SESSION_IDLE_MINUTES", 120)
        self.SESSION_MAX_HOURS = _number("SESSION_MAX_HOURS", 12)
        # The cookie is signed and sent again only when the session changed: at sign-in, and
        # when a request moves its "last seen" time on (browser_sessions.SEEN_RESOLUTION).
        # Flask's default re-signs and re-sends a permanent session on every request, which
        # was ~4 % of a roster tap and only renewed an expiry that SESSION_MAX_HOURS after
        # sign-in caps anyway.
        self.SESSION_REFRESH_EACH_REQUEST = False
        # API tokens expire this long after they were issued.
        self.API_TOKEN_DAYS = _number("API_TOKEN_DAYS", 30)
        # How often a serving process checks its live connections against the logins they
        # rest on (revoked tokens, sessions that ended elsewhere), in seconds.
        self.LIVE_SWEEP_SECONDS = _number("LIVE_SWEEP_SECONDS", 10)
        # Admins must sign in with a second factor (TOTP) when this is on.
        self.REQUIRE_ADMIN_2FA = _bool("REQUIRE_ADMIN_2FA", False)
        # Where failed logins are counted: Redis when several processes share the work
        # (the message queue's Redis unless RATELIMIT_STORAGE_URI says otherwise), else memory.
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or None
        # How many reverse proxies (nginx) stand in front: their X-Forwarded-For/-Proto are
        # then believed, so throttling sees the client's address and HSTS sees HTTPS.
        self.PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
        # Request bodies over 1 MiB are refused (413) before they are read.
        self.MAX_CONTENT_LENGTH = 1024 * 1024
        # A roster page stays open for a whole lesson: CSRF tokens live as long as the login.
        self.WTF_CSRF_TIME_LIMIT = None
        # werkzeug's scrypt: memory-hard, no extra dependency; hashes made with other
        # parameters are redone at the next successful login.
        self.PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", DEFAULT_PASSWORD_HASH)
        self.ANALYTICS_TREND_WINDOW = int(os.environ.get("ANALYTICS_TREND_WINDOW", "5"))
        # Alerts: a student N absences in a row in a class alerts their teacher and the
        # admins (as does crossing into high risk).
        self.ALERT_ABSENCE_STREAK = int(os.environ.get("ALERT_ABSENCE_STREAK", "3"))
        # A rate over one or two lessons says little: the rate-based part of high risk alerts
        # only from this many records in the class (a streak alerts regardless).
        self.ALERT_MIN_SESSIONS = int(os.environ.get("ALERT_MIN_SESSIONS", "3"))
        # Email (optional): with no MAIL_SERVER, alerts stay in the app and nothing is queued.
        self.MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
        self.MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
        self.MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
        self.MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
        self.MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)  # STARTTLS
        self.MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)  # implicit TLS (port 465)
        self.MAIL_FROM = os.environ.get("MAIL_FROM", "attendance@localhost")
        # An alert email waits this long so a correction made in class can withdraw it.
        self.MAIL_ALERT_DELAY_SECONDS = int(os.environ.get("MAIL_ALERT_DELAY_SECONDS", "300"))
        # How often a serving process sends what is due (0: only `flask send-mail` sends).
        self.MAIL_SEND_INTERVAL = int(os.environ.get("MAIL_SEND_INTERVAL", "30"))
        # When serving processes send the teachers' weekly summaries ("off": only the
        # `flask weekly-summary` command does, e.g. from cron).
        self.WEEKLY_SUMMARY = os.environ.get("WEEKLY_SUMMARY", "monday 06:00")
        # When serving processes queue the day's absence emails to guardians (school time;
        # "off": only `flask guardian-digest` does), and the address those emails give.
        self.GUARDIAN_DIGEST_TIME = os.environ.get("GUARDIAN_DIGEST_TIME", "16:00")
        self.SCHOOL_CONTACT_EMAIL = os.environ.get("SCHOOL_CONTACT_EMAIL") or None
        # Pages and messages show times in the school's zone (stored and exchanged in UTC).
        self.SCHOOL_TIMEZONE = os.environ.get("SCHOOL_TIMEZONE", "UTC")
        # The site's address, for links in emails (written outside any request).
        self.PUBLIC_URL = os.environ.get("PUBLIC_URL") or None
        # Self check-in: the code shown in the room changes every period (a code is accepted
        # in its own period and the next); a check-in this long after the start is LATE.
        self.CHECK_IN_PERIOD_SECONDS = int(os.environ.get("CHECK_IN_PERIOD_SECONDS", "30"))
        self.CHECK_IN_LATE_MINUTES = int(os.environ.get("CHECK_IN_LATE_MINUTES", "10"))
        # The JSON session view keeps finished bodies while the database's data is unchanged
        # (services/data_version.py: any write, by any process, starts afresh), up to this
        # many bytes of bodies per process; 0 turns it off.
        self.SESSION_VIEW_CACHE_BYTES = int(
            os.environ.get("SESSION_VIEW_CACHE_BYTES", str(16 * 1024 * 1024))
        )
        self.HISTORY_PAGE_DEFAULT = 1000
        self.HISTORY_PAGE_MAX = 5000
        self.JSON_SORT_KEYS = False


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """The app's settings as a dict: environment first, then explicit overrides (tests)."""
    settings = {k: v for k, v in vars(Config(instance_path)).items() if k.isupper()}
    settings.update(overrides or {})
    if settings["SOCKETIO_ASYNC_MODE"] not in ASYNC_MODES:
        raise RuntimeError(
            f"SOCKETIO_ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}, "
            f"not {settings['SOCKETIO_ASYNC_MODE']!r}"
        )
    if not settings.get("SECRET_KEY"):
        if settings["ENV_NAME"] not in GENERATED_KEY_ENVS:
            raise RuntimeError(
                "SECRET_KEY must be set outside development and tests "
                f"(ATTENDANCE_ENV={settings['ENV_NAME']!r})"
            )
        settings["SECRET_KEY"] = instance_secret_key(instance_path)
    settings.setdefault(
        "PERMANENT_SESSION_LIFETIME", timedelta(hours=settings.get("SESSION_MAX_HOURS", 12))
    )
    if int(settings.get("CHECK_IN_PERIOD_SECONDS") or 0) < 1:
        raise RuntimeError("CHECK_IN_PERIOD_SECONDS must be a whole number of seconds, at least 1")
    from attendance_app.services.clock import zone_named

    try:
        zone_named(settings.get("SCHOOL_TIMEZONE") or "UTC")
    except ValueError as err:
        raise RuntimeError(str(err)) from err
    settings["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(settings)
    return settings


def instance_secret_key(instance_path: str) -> str:
    """The key kept in ``instance/secret_key`` (mode 0600), generated on first use.

    Several processes may start at once: the key is written to a private temporary file and
    linked into place, so exactly one key wins and every process reads that one.
    """
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SECRET_KEY_FILE
    if not path.exists():
        tmp = folder / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)  # fails if another process linked its key first
        except FileExistsError:
            pass
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise RuntimeError(
            f"{path} is readable by other users (mode {mode:o}): chmod 600 it, or set SECRET_KEY"
        )
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds no usable key: delete it to make a new one")
    return key


def engine_options(settings: dict) -> dict:
    """Pool settings per database and server mode."""
    url = settings["SQLALCHEMY_DATABASE_URI"]
    options: dict = dict(settings.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {}).setdefault("timeout", 10)
        if settings.get("SERVER_GREEN"):
            # Under green threads a SQLite call blocks the hub: let greenlets queue on a
            # single pooled connection instead of spinning in SQLite's busy handler.
            options.setdefault("pool_size", 1)
            options.setdefault("max_overflow", 0)
    else:
        # A connection the database dropped (a restart) is noticed and replaced when it is
        # taken from the pool; a database that does not answer fails a connect in seconds
        # (a 503, services/errors.py) instead of holding the request.
        options.setdefault("pool_pre_ping", True)
        options.setdefault("connect_args", {}).setdefault("connect_timeout", 5)
        if url.startswith("postgresql+psycopg://"):
            from attendance_app.psycopg_cursor import Cursor

            # psycopg's cursor, its description made only when read (psycopg_cursor.py).
            options["connect_args"].setdefault("cursor_factory", Cursor)
        options.setdefault("pool_size", 10)
        options.setdefault("max_overflow", 40)
    return options
