"""/account/password and /account/two-factor: everyone's own password, and staff's
two-factor sign-in (set up with a QR code, recovery codes shown once, off with a code)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import login_required, login_user

from attendance_app.services.errors import Invalid
from attendance_app.services.school import browser_sessions, people, two_factor
from attendance_app.web import bp, current_actor
from attendance_app.web.auth import client_address
from attendance_app.web.forms import check_password

PASSWORD_CHANGED = "Your password was changed; your logins on other devices have ended."
TWO_FACTOR_ON = "Two-factor sign-in is on. Keep your recovery codes somewhere safe."
TWO_FACTOR_OFF = "Two-factor sign-in is off."
_SETUP_KEY = "totp_setup"


def _stay_logged_in(user) -> None:
    """After a change that ended every login of ``user``: this browser carries on, with a
    fresh session (the new session version)."""
    session.clear()
    login_user(user)
    session.permanent = True
    browser_sessions.start(session)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def account_password():
    """Change one's own password (the current one first); other logins end."""
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        current = request.form.get("current_password", "")
        new = request.form.get("password", "")
        check_password(new, errors)
        if not current:
            errors["current_password"] = "This field is required."
        if not errors:
            try:
                user = people.change_password(
                    actor=current_actor(),
                    current_password=current,
                    new_password=new,
                    address=client_address(),
                )
            except Invalid as err:
                errors[err.field or "form"] = err.message
            else:
                _stay_logged_in(user)
                flash(PASSWORD_CHANGED, "success")
                return redirect(url_for("web.account_password"))
        status = 400
    return render_template(
        "account/password.html",
        errors=errors,
        min_password=people.MIN_PASSWORD_LENGTH,
        can_two_factor=two_factor.allowed(current_actor()),
    ), status


def _two_factor_page(*, errors=None, codes=None, status: int = 200):
    actor = current_actor()
    context = {
        "errors": errors or {},
        "enabled": two_factor.enabled(actor),
        "required": two_factor.required(actor),
        "allowed": two_factor.allowed(actor),
        "codes": codes,
        "qr": None,
        "secret": None,
        "codes_left": 0,
    }
    if context["enabled"]:
        context["codes_left"] = two_factor.recovery_codes_left(actor.id)
    elif context["allowed"]:
        secret = session.get(_SETUP_KEY)
        if not secret:
            secret = session[_SETUP_KEY] = two_factor.new_secret()
        uri = two_factor.provisioning_uri(secret=secret, email=actor.email)
        context.update(qr=two_factor.qr_svg(uri), secret=secret)
    return render_template("account/two_factor.html", **context), status


@bp.get("/account/two-factor")
@login_required
def account_two_factor():
    """Two-factor sign-in: its state, or the set-up (QR code and key) when it is off."""
    return _two_factor_page()


@bp.post("/account/two-factor")
@login_required
def account_two_factor_enable():
    """Turn it on with the first code the app shows; the recovery codes are shown once."""
    secret = session.get(_SETUP_KEY, "")
    try:
        enabled = two_factor.enable(
            actor=current_actor(), secret=secret, code=request.form.get("code", "")
        )
    except Invalid as err:
        return _two_factor_page(errors={"code": err.message}, status=400)
    session.pop(_SETUP_KEY, None)
    flash(TWO_FACTOR_ON, "success")
    return _two_factor_page(codes=enabled.recovery_codes)


@bp.post("/account/two-factor/off")
@login_required
def account_two_factor_disable():
    """Turn it off: needs a current code (or a recovery code)."""
    try:
        two_factor.disable(actor=current_actor(), code=request.form.get("code", ""))
    except Invalid as err:
        return _two_factor_page(errors={"off": err.message}, status=400)
    flash(TWO_FACTOR_OFF, "success")
    return redirect(url_for("web.account_two_factor"))


@bp.post("/account/two-factor/recovery-codes")
@login_required
def account_recovery_codes():
    """New recovery codes for a current code; the old ones stop working."""
    try:
        codes = two_factor.regenerate_recovery_codes(
            actor=current_actor(), code=request.form.get("code", "")
        )
    except Invalid as err:
        return _two_factor_page(errors={"regenerate": err.message}, status=400)
    return _two_factor_page(codes=codes)
