"""/login (with its second step, /login/code, for two-factor accounts) and /logout; and the
browser session's clock (idle and absolute timeouts) on every request."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

from flask import (
    Flask,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from attendance_app.extensions import db
from attendance_app.models import Channel, User
from attendance_app.services.errors import Throttled, Unauthenticated
from attendance_app.services.school import browser_sessions, signin, two_factor
from attendance_app.services.school.people import INVALID_CREDENTIALS, sign_out_everywhere
from attendance_app.web import bp
from attendance_app.web.forms import LoginForm, OtpForm

SESSION_ENDED = "Your session has ended; please log in again."
SET_UP_FIRST = "Admins must use two-factor sign-in here: set it up to carry on."
#: How long the code step waits after a correct password.
PENDING_SECONDS = 300
_PENDING_KEY = "pending_2fa"


def client_address() -> str | None:
    """The client's address (behind PROXY_COUNT proxies, the one they forwarded)."""
    return request.remote_addr


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: never an open redirect to another host."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("web.home")


def _throttled_page(template: str, err: Throttled, **context):
    flash(err.message, "error")
    response = render_template(template, **context), 429, {"Retry-After": str(err.retry_after)}
    return response


def _complete_login(user: User, next_url: str | None):
    """A fresh session for the signed-in user: nothing from before the login survives it
    (a planted value, the anonymous CSRF token)."""
    session.clear()
    login_user(user)
    session.permanent = True  # the cookie lives SESSION_MAX_HOURS, not until the browser closes
    browser_sessions.start(session)
    signin.record_login(user=user, address=client_address(), channel=Channel.WEB)
    if two_factor.required(user) and not two_factor.enabled(user):
        flash(SET_UP_FIRST, "info")
        return redirect(url_for("web.account_two_factor"))
    return redirect(_safe_next(next_url))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; on success (and the code step, for two-factor accounts) back to the
    page that asked, or home. Failures are throttled (429, the message as a page)."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = signin.check_password(
                email=form.email.data,
                password=form.password.data,
                address=client_address(),
                channel=Channel.WEB,
            )
        except Throttled as err:
            return _throttled_page("auth/login.html", err, form=form)
        except Unauthenticated:
            flash(INVALID_CREDENTIALS, "error")
            status = 401
        else:
            if two_factor.enabled(user):
                session[_PENDING_KEY] = {
                    "user": str(user.id),
                    "version": user.session_version,
                    "at": int(time.time()),
                    "next": request.args.get("next") or "",
                }
                return redirect(url_for("web.login_code"))
            return _complete_login(user, request.args.get("next"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


def _pending_user() -> tuple[User | None, str]:
    """The user whose password was just accepted and who owes a code (or None)."""
    pending = session.get(_PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None, ""
    try:
        user = db.session.get(User, uuid.UUID(pending.get("user", "")))
    except ValueError:
        return None, ""
    if user is None or not user.is_active or user.session_version != pending.get("version"):
        return None, ""
    return user, pending.get("next", "")


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """The second step of a two-factor login: the app's 6-digit code or a recovery code.
    A wrong code counts as a failed login."""
    user, next_url = _pending_user()
    if user is None:
        session.pop(_PENDING_KEY, None)
        return redirect(url_for("web.login"))
    form = OtpForm()
    status = 200
    if form.validate_on_submit():
        try:
            signin.check_second_factor(
                user=user, otp=form.otp.data, address=client_address(), channel=Channel.WEB
            )
        except Throttled as err:
            return _throttled_page("auth/login_code.html", err, form=form)
        except Unauthenticated as err:
            flash(err.message, "error")
            status = 401
        else:
            return _complete_login(user, next_url)
    elif request.method == "POST":
        status = 400
    return render_template("auth/login_code.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    """Sign out on every device: browser sessions end and live connections close."""
    sign_out_everywhere(user=current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You have been logged out.", "info")
    return redirect(url_for("web.login"))


#: Pages an admin who must set up two-factor sign-in may still open.
_SETUP_ENDPOINTS = {
    "web.account_two_factor",
    "web.account_two_factor_enable",
    "web.logout",
    "web.login",
    "web.login_code",
    "static",
}


def _session_clock():
    """End a browser session that was idle too long or is too old; keep its clock.

    Every request asks this, so the request, the session and the user are each looked up
    once (a context-local lookup is ~5 Python calls, and the session's mapping was passed
    on as the proxy: every read of it a lookup)."""
    req = request._get_current_object()  # type: ignore[attr-defined]
    endpoint = req.endpoint
    store = session._get_current_object()  # type: ignore[attr-defined]
    if endpoint == "static" or "_user_id" not in store:
        return None
    if not browser_sessions.touch(store):
        logout_user()
        store.clear()
        if not req.path.startswith("/api/"):
            flash(SESSION_ENDED, "info")
        return None
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    if (
        user.is_authenticated
        and endpoint not in _SETUP_ENDPOINTS
        and two_factor.required(user)
        and not two_factor.enabled(user)
    ):
        if req.path.startswith("/api/"):
            from flask import jsonify

            return jsonify({"detail": signin.SET_UP_TWO_FACTOR}), 403
        flash(SET_UP_FIRST, "info")
        return redirect(url_for("web.account_two_factor"))
    return None


def init_app(app: Flask) -> None:
    app.before_request(_session_clock)
