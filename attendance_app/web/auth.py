"""/login and /logout."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from attendance_app.services.school.people import (
    INVALID_CREDENTIALS,
    authenticate,
    sign_out_everywhere,
)
from attendance_app.web import bp
from attendance_app.web.forms import LoginForm


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: never an open redirect to another host."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("web.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login form; on success, back to the page that asked (or home)."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash(INVALID_CREDENTIALS, "error")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    """Sign out on every device: browser sessions end and live connections close."""
    sign_out_everywhere(user=current_user._get_current_object())
    logout_user()
    flash("You have been logged out.", "info")
    return redirect(url_for("web.login"))
