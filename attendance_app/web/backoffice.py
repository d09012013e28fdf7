"""/admin/people and /admin/import: the admin's back office for accounts and CSV rosters."""

from __future__ import annotations

import uuid

from flask import Response, flash, redirect, render_template, request, session, url_for
from flask_login import login_required, login_user

from attendance_app.models import Guardian, Role, Student, User
from attendance_app.services import permissions
from attendance_app.services.errors import Invalid
from attendance_app.services.school import (
    browser_sessions,
    guardians,
    listings,
    people,
    student_import,
    two_factor,
)
from attendance_app.web import bp, current_actor
from attendance_app.web.args import page_arg
from attendance_app.web.forms import (
    check_email,
    check_password,
    field_error,
    max_length,
    read_text,
    save_form,
)

UNKNOWN_ROLE = "Choose a role."
NO_FILE = "Choose a CSV file to upload."
NEW_PASSWORDS = "New students get a random password nobody knows; reset it before they log in."
PERSON_LIMITS = {
    "email": max_length(User.email),
    "first_name": max_length(User.first_name),
    "last_name": max_length(User.last_name),
    "student_number": max_length(Student.student_number),
}
PASSWORD_CHANGED = "{name} has a new password; every login of theirs has ended."
PASSWORD_CHANGED_OWN = "Your password was changed; your logins on other devices have ended."
TWO_FACTOR_RESET = "{name}'s two-factor sign-in is off; they can set it up again."
GUARDIAN_LIMITS = {
    "name": max_length(Guardian.name),
    "email": max_length(Guardian.email),
    "relationship": max_length(Guardian.relationship),
}
GUARDIAN_ADDED = "{name} was added as {student}'s {relationship}."
GUARDIAN_REMOVED = "{name} was removed from {student}'s guardians."
GUARDIAN_NOTIFY = {
    True: "{name} will be emailed the day {student} is absent.",
    False: "{name} will not be emailed about {student}'s absences.",
}


def _role_arg() -> Role | None:
    value = request.args.get("role", "").strip().upper()
    return Role(value) if value in Role.__members__ else None


def _people_page(form: dict[str, str] | None = None, errors: dict[str, str] | None = None):
    role = _role_arg()
    query = request.args.get("q", "").strip()
    found = listings.page_users(actor=current_actor(), role=role, query=query, page=page_arg())
    return render_template(
        "admin/people.html",
        found=found,
        users=found.items,
        role=role,
        query=query,
        args={key: value for key, value in (("role", role), ("q", query)) if value},
        roles=list(Role),
        form=form or {"role": Role.STUDENT.value},
        errors=errors or {},
        confirm=None,
    )


@bp.get("/admin/people")
@login_required
def admin_people():
    """People for admins: role filter, search, pages, (de)activation, a new-person form."""
    return _people_page()


@bp.post("/admin/people")
@login_required
def admin_person_create():
    """Create a person; the service's messages are shown beside the fields (400)."""
    form, errors = read_text(request.form, PERSON_LIMITS, optional=("student_number",))
    form["role"] = request.form.get("role", "").strip()
    password = request.form.get("password", "")
    check_email(form, errors)
    check_password(password, errors)
    if form["role"] not in Role.__members__:
        errors["role"] = UNKNOWN_ROLE
    return save_form(
        errors,
        lambda: people.create_user(
            actor=current_actor(),
            email=form["email"],
            password=password,
            first_name=form["first_name"],
            last_name=form["last_name"],
            role=Role(form["role"]),
            student_number=form["student_number"] or None,
        ),
        saved=lambda user: (
            f"{user.full_name} ({user.email}) was created.",
            url_for("web.admin_people"),
        ),
        again=lambda: _people_page(form, errors),
    )


def _person_page(
    user: User,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    password_errors: dict[str, str] | None = None,
    guardian_form: dict[str, str] | None = None,
    guardian_errors: dict[str, str] | None = None,
):
    actor = current_actor()
    listed = (
        guardians.list_guardians(actor=actor, student_id=user.student.id)
        if user.student and permissions.is_admin(actor)
        else None
    )
    if form is None:
        form = {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "student_number": user.student.student_number if user.student else "",
        }
    return render_template(
        "admin/person.html",
        person=user,
        classes=listings.person_classes(actor=actor, user=user),
        form=form,
        errors=errors or {},
        password_errors=password_errors or {},
        limits=PERSON_LIMITS,
        role_is_fixed=people.ROLE_IS_FIXED,
        min_password=people.MIN_PASSWORD_LENGTH,
        can_manage=permissions.can_manage_user(actor, user),
        two_factor_on=two_factor.enabled(user),
        guardians=listed,
        guardian_form=guardian_form or {"notify": "on"},
        guardian_errors=guardian_errors or {},
        guardian_limits=GUARDIAN_LIMITS,
    )


@bp.get("/admin/people/<uuid:user_id>")
@login_required
def admin_person(user_id: uuid.UUID):
    """One person: their details and a password reset; a teacher's classes or a student's
    enrolments."""
    return _person_page(people.get_user_for(actor=current_actor(), user_id=user_id))


@bp.post("/admin/people/<uuid:user_id>")
@login_required
def admin_person_update(user_id: uuid.UUID):
    """Save a person's names, email and student number; errors beside the fields (400)."""
    user = people.get_user_for(actor=current_actor(), user_id=user_id)
    optional = () if user.student else ("student_number",)
    form, errors = read_text(request.form, PERSON_LIMITS, optional=optional)
    check_email(form, errors)
    return save_form(
        errors,
        lambda: people.update_user(
            actor=current_actor(),
            user_id=user_id,
            email=form["email"],
            first_name=form["first_name"],
            last_name=form["last_name"],
            student_number=form["student_number"] or None,
        ),
        saved=lambda saved: (
            f"{saved.full_name} ({saved.email}) was saved.",
            url_for("web.admin_person", user_id=user_id),
        ),
        again=lambda: _person_page(user, form=form, errors=errors),
    )


@bp.post("/admin/people/<uuid:user_id>/password")
@login_required
def admin_person_password(user_id: uuid.UUID):
    """Set a new password for a person, once the admin has confirmed their own; every login
    of theirs ends (an admin resetting their own stays logged in here)."""
    actor = current_actor()
    user = people.get_user_for(actor=actor, user_id=user_id)
    password = request.form.get("password", "")
    errors: dict[str, str] = {}
    check_password(password, errors)
    if not request.form.get("current_password"):
        errors["current_password"] = "This field is required."
    if not errors:
        try:
            user = people.set_password(
                actor=actor,
                user_id=user_id,
                password=password,
                actor_password=request.form.get("current_password", ""),
                address=request.remote_addr,
            )
        except Invalid as err:
            field_error(err, errors)
        else:
            if user.id == actor.id:
                # With the new session version, in a fresh session: this browser stays in.
                session.clear()
                login_user(user)
                session.permanent = True
                browser_sessions.start(session)
                flash(PASSWORD_CHANGED_OWN, "success")
            else:
                flash(PASSWORD_CHANGED.format(name=user.full_name), "success")
            return redirect(url_for("web.admin_person", user_id=user_id))
    return _person_page(user, password_errors=errors), 400


@bp.post("/admin/people/<uuid:user_id>/two-factor/reset")
@login_required
def admin_person_two_factor_reset(user_id: uuid.UUID):
    """Turn off a person's two-factor sign-in (a lost phone); they set it up again."""
    user = two_factor.reset(actor=current_actor(), user_id=user_id)
    flash(TWO_FACTOR_RESET.format(name=user.full_name), "success")
    return redirect(url_for("web.admin_person", user_id=user_id))


@bp.get("/admin/people/<uuid:user_id>/deactivate")
@login_required
def admin_person_deactivate_confirm(user_id: uuid.UUID):
    """Ask before deactivating."""
    user = people.get_user_to_manage(actor=current_actor(), user_id=user_id)
    return render_template("admin/people.html", confirm=user)


@bp.post("/admin/people/<uuid:user_id>/deactivate")
@login_required
def admin_person_deactivate(user_id: uuid.UUID):
    """Deactivate a person: they are logged out everywhere; their records stay."""
    user = people.set_active(actor=current_actor(), user_id=user_id, active=False)
    flash(f"{user.full_name} was deactivated and logged out everywhere.", "success")
    return redirect(url_for("web.admin_people"))


@bp.post("/admin/people/<uuid:user_id>/reactivate")
@login_required
def admin_person_reactivate(user_id: uuid.UUID):
    """Reactivate a person (they log in with their old password)."""
    user = people.set_active(actor=current_actor(), user_id=user_id, active=True)
    flash(f"{user.full_name} was reactivated.", "success")
    return redirect(url_for("web.admin_people"))


def _student_of(user_id: uuid.UUID) -> tuple[User, Student]:
    """The person and their student profile (a person who is not a student has no guardians:
    404)."""
    from attendance_app.services.errors import NotFound
    from attendance_app.services.school.structure import STUDENT_NOT_FOUND

    user = people.get_user_for(actor=current_actor(), user_id=user_id)
    if user.student is None:
        raise NotFound(STUDENT_NOT_FOUND)
    return user, user.student


@bp.post("/admin/people/<uuid:user_id>/guardians")
@login_required
def admin_guardian_add(user_id: uuid.UUID):
    """Add a guardian to a student; errors beside the fields (400)."""
    user, student = _student_of(user_id)
    form, errors = read_text(request.form, GUARDIAN_LIMITS)
    check_email(form, errors)
    form["notify"] = "on" if request.form.get("notify") else ""
    return save_form(
        errors,
        lambda: guardians.add_guardian(
            actor=current_actor(),
            student_id=student.id,
            name=form["name"],
            email=form["email"],
            relationship=form["relationship"],
            notify=bool(form["notify"]),
        ),
        saved=lambda guardian: (
            GUARDIAN_ADDED.format(
                name=guardian.name,
                student=user.full_name,
                relationship=guardian.relationship.lower(),
            ),
            url_for("web.admin_person", user_id=user_id) + "#guardians-heading",
        ),
        again=lambda: _person_page(user, guardian_form=form, guardian_errors=errors),
    )


@bp.get("/admin/people/<uuid:user_id>/guardians/<uuid:guardian_id>/remove")
@login_required
def admin_guardian_remove_confirm(user_id: uuid.UUID, guardian_id: uuid.UUID):
    """Ask before removing a guardian."""
    user, student = _student_of(user_id)
    guardian = guardians.get_guardian(
        actor=current_actor(), student_id=student.id, guardian_id=guardian_id
    )
    return render_template("admin/guardian_remove.html", person=user, guardian=guardian)


@bp.post("/admin/people/<uuid:user_id>/guardians/<uuid:guardian_id>/remove")
@login_required
def admin_guardian_remove(user_id: uuid.UUID, guardian_id: uuid.UUID):
    """Remove a guardian: they are not emailed any more."""
    user, student = _student_of(user_id)
    guardian = guardians.remove_guardian(
        actor=current_actor(), student_id=student.id, guardian_id=guardian_id
    )
    flash(GUARDIAN_REMOVED.format(name=guardian.name, student=user.full_name), "success")
    return redirect(url_for("web.admin_person", user_id=user_id) + "#guardians-heading")


@bp.post("/admin/people/<uuid:user_id>/guardians/<uuid:guardian_id>/notify")
@login_required
def admin_guardian_notify(user_id: uuid.UUID, guardian_id: uuid.UUID):
    """Turn a guardian's absence emails on or off."""
    user, student = _student_of(user_id)
    notify = request.form.get("notify") == "on"
    guardian = guardians.set_notify(
        actor=current_actor(), student_id=student.id, guardian_id=guardian_id, notify=notify
    )
    flash(GUARDIAN_NOTIFY[notify].format(name=guardian.name, student=user.full_name), "success")
    return redirect(url_for("web.admin_person", user_id=user_id) + "#guardians-heading")


@bp.get("/guardians/unsubscribe/<token>")
def guardian_unsubscribe_confirm(token: str):
    """The link in a guardian's email (no login): one button turns the emails off. A GET
    changes nothing, so a mail scanner that opens links does not unsubscribe anyone."""
    guardian = guardians.guardian_for_token(token)
    return render_template("guardians/unsubscribe.html", guardian=guardian, token=token)


@bp.post("/guardians/unsubscribe/<token>")
def guardian_unsubscribe(token: str):
    """Turn the emails off (no login: the signed token is the permission)."""
    guardian = guardians.unsubscribe(token=token)
    return render_template("guardians/unsubscribe.html", guardian=guardian, done=True)


def _import_page(*, preview=None, content: str = "", problem: str | None = None):
    return render_template(
        "admin/import.html",
        class_names=student_import.class_names(actor=current_actor()),
        columns=student_import.COLUMNS,
        guardian_columns=student_import.GUARDIAN_COLUMNS,
        max_rows=student_import.MAX_ROWS,
        max_kb=student_import.MAX_BYTES // 1000,
        template_number=student_import.TEMPLATE_NUMBER,
        new_passwords=NEW_PASSWORDS,
        preview=preview,
        content=content,
        problem=problem,
    )


@bp.get("/admin/import")
@login_required
def admin_import():
    """The import page: template download and upload form."""
    return _import_page()


@bp.get("/admin/import/template.csv")
@login_required
def admin_import_template():
    """The CSV template: the header and one example row (with one of the school's classes)."""
    return Response(
        student_import.template_csv(actor=current_actor()),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="students-import-template.csv"'},
    )


@bp.post("/admin/import/preview")
@login_required
def admin_import_preview():
    """Parse and validate the uploaded file; list every problem by line beside the rows that
    are ready. Nothing is written. The preview is the answer even when it lists problems
    (200); a file that cannot be read at all is a 400."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_page(problem=NO_FILE), 400
    try:
        text = student_import.decode_upload(upload.stream.read(student_import.MAX_BYTES + 1))
    except Invalid as err:
        return _import_page(problem=err.message), 400
    preview = student_import.preview_import(actor=current_actor(), text=text)
    return _import_page(preview=preview, content=text)


@bp.post("/admin/import")
@login_required
def admin_import_apply():
    """Import the previewed file, all or nothing (it is validated again first)."""
    text = request.form.get("content", "")
    try:
        counts = student_import.apply_import(actor=current_actor(), text=text)
    except Invalid as err:
        preview = student_import.preview_import(actor=current_actor(), text=text)
        return _import_page(preview=preview, content=text, problem=err.message), 400
    guardians_added = (
        f", {counts.guardians_created} new guardian(s)" if counts.guardians_created else ""
    )
    flash(
        f"Imported {counts.rows} row(s): {counts.students_created} new student(s), "
        f"{counts.students_reused} existing, {counts.enrolments_created} new enrolment(s)"
        f"{guardians_added}.",
        "success",
    )
    return redirect(url_for("web.admin_import"))
