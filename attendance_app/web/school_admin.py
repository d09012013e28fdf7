"""/admin/subjects and /admin/classes: the admin's back office for the school's structure
(subjects, classes, and who is enrolled in each class)."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required

from attendance_app.models import SchoolClass, Subject
from attendance_app.services.errors import Invalid
from attendance_app.services.school import listings, structure
from attendance_app.web import bp, current_actor
from attendance_app.web.forms import max_length, read_text, read_uuid, save_form

SUBJECT_LIMITS = {"code": max_length(Subject.code), "name": max_length(Subject.name)}
CLASS_LIMITS = {"name": max_length(SchoolClass.name)}
CHOOSE_SUBJECT = "Choose a subject."
CHOOSE_TEACHER = "Choose a teacher."
TICK_STUDENTS = "Tick at least one student to add."
UNKNOWN_STUDENT = "One of the ticked students is unknown; search again."
REMOVED = "{name} was removed from {klass}; their attendance records are kept."


# --- subjects -------------------------------------------------------------------------------


def _subjects_page(form: dict[str, str] | None = None, errors: dict[str, str] | None = None):
    return render_template(
        "admin/subjects.html",
        rows=listings.subject_rows(actor=current_actor()),
        form=form or {},
        errors=errors or {},
        limits=SUBJECT_LIMITS,
    )


@bp.get("/admin/subjects")
@login_required
def admin_subjects():
    """Every subject, and a form for a new one."""
    return _subjects_page()


@bp.post("/admin/subjects")
@login_required
def admin_subject_create():
    """Create a subject; errors beside the fields (400)."""
    form, errors = read_text(request.form, SUBJECT_LIMITS)
    return save_form(
        errors,
        lambda: structure.create_subject(
            actor=current_actor(), code=form["code"], name=form["name"]
        ),
        saved=lambda subject: (
            f"Subject {subject.code} was created.",
            url_for("web.admin_subjects"),
        ),
        again=lambda: _subjects_page(form, errors),
    )


def _subject_page(subject: Subject, form=None, errors=None):
    return render_template(
        "admin/subject.html",
        subject=subject,
        form=form or {"code": subject.code, "name": subject.name},
        errors=errors or {},
        limits=SUBJECT_LIMITS,
    )


@bp.get("/admin/subjects/<uuid:subject_id>")
@login_required
def admin_subject(subject_id: uuid.UUID):
    """A subject's edit form."""
    return _subject_page(structure.get_subject_for(actor=current_actor(), subject_id=subject_id))


@bp.post("/admin/subjects/<uuid:subject_id>")
@login_required
def admin_subject_update(subject_id: uuid.UUID):
    """Save a subject's code and name; errors beside the fields (400)."""
    subject = structure.get_subject_for(actor=current_actor(), subject_id=subject_id)
    form, errors = read_text(request.form, SUBJECT_LIMITS)
    return save_form(
        errors,
        lambda: structure.update_subject(
            actor=current_actor(), subject_id=subject_id, code=form["code"], name=form["name"]
        ),
        saved=lambda saved: (f"Subject {saved.code} was saved.", url_for("web.admin_subjects")),
        again=lambda: _subject_page(subject, form, errors),
    )


# --- classes --------------------------------------------------------------------------------


def _class_form() -> tuple[dict, dict[str, str]]:
    """The class form's values (ids as UUIDs) and shape errors."""
    values, errors = read_text(request.form, CLASS_LIMITS)
    form: dict = dict(values)
    form["subject_id"] = read_uuid(request.form, "subject_id", errors, CHOOSE_SUBJECT)
    form["teacher_id"] = read_uuid(request.form, "teacher_id", errors, CHOOSE_TEACHER)
    return form, errors


def _classes_page(form: dict | None = None, errors: dict[str, str] | None = None):
    actor = current_actor()
    return render_template(
        "admin/classes.html",
        rows=listings.class_rows(actor=actor),
        choices=listings.class_choices(actor=actor),
        form=form or {},
        errors=errors or {},
        limits=CLASS_LIMITS,
    )


@bp.get("/admin/classes")
@login_required
def admin_classes():
    """Every class with its subject, teacher and enrolled count, and a form for a new one."""
    return _classes_page()


@bp.post("/admin/classes")
@login_required
def admin_class_create():
    """Create a class; errors beside the fields (400)."""
    form, errors = _class_form()
    return save_form(
        errors,
        lambda: structure.create_class(
            actor=current_actor(),
            subject_id=form["subject_id"],
            teacher_id=form["teacher_id"],
            name=form["name"],
        ),
        saved=lambda created: (
            f"Class {created.name} was created; now add its students.",
            url_for("web.admin_class_students", class_id=created.id),
        ),
        again=lambda: _classes_page(form, errors),
    )


def _class_page(school_class: SchoolClass, form=None, errors=None):
    actor = current_actor()
    return render_template(
        "admin/class.html",
        school_class=school_class,
        enrolled=structure.enrolled_count(school_class.id),
        choices=listings.class_choices(actor=actor),
        form=form
        or {
            "name": school_class.name,
            "subject_id": school_class.subject_id,
            "teacher_id": school_class.teacher_id,
        },
        errors=errors or {},
        limits=CLASS_LIMITS,
    )


@bp.get("/admin/classes/<uuid:class_id>")
@login_required
def admin_class(class_id: uuid.UUID):
    """A class's edit form (name, subject, teacher)."""
    return _class_page(listings.get_class_for_admin(actor=current_actor(), class_id=class_id))


@bp.post("/admin/classes/<uuid:class_id>")
@login_required
def admin_class_update(class_id: uuid.UUID):
    """Save a class's name, subject and teacher; errors beside the fields (400)."""
    school_class = listings.get_class_for_admin(actor=current_actor(), class_id=class_id)
    form, errors = _class_form()
    return save_form(
        errors,
        lambda: structure.update_class(
            actor=current_actor(),
            class_id=class_id,
            subject_id=form["subject_id"],
            teacher_id=form["teacher_id"],
            name=form["name"],
        ),
        saved=lambda saved: (f"Class {saved.name} was saved.", url_for("web.admin_classes")),
        again=lambda: _class_page(school_class, form, errors),
    )


# --- a class's enrolments ---------------------------------------------------------------------


def _students_page(class_id: uuid.UUID, *, problem: str | None = None):
    actor = current_actor()
    query = request.args.get("q", "").strip()
    return render_template(
        "admin/class_students.html",
        school_class=listings.get_class_for_admin(actor=actor, class_id=class_id),
        students=structure.enrolled_students(class_id),
        candidates=listings.enrolment_candidates(actor=actor, class_id=class_id, query=query),
        query=query,
        problem=problem,
    )


@bp.get("/admin/classes/<uuid:class_id>/students")
@login_required
def admin_class_students(class_id: uuid.UUID):
    """A class's enrolled students (each with a remove button) and a search to add more."""
    return _students_page(class_id)


@bp.post("/admin/classes/<uuid:class_id>/students")
@login_required
def admin_class_enroll(class_id: uuid.UUID):
    """Enrol the ticked students in one action (already enrolled ones are skipped)."""
    actor = current_actor()
    listings.get_class_for_admin(actor=actor, class_id=class_id)
    raw = request.form.getlist("student_ids")
    if not raw:
        return _students_page(class_id, problem=TICK_STUDENTS), 400
    try:
        student_ids = [uuid.UUID(value) for value in raw]
    except ValueError:
        return _students_page(class_id, problem=UNKNOWN_STUDENT), 400
    try:
        result = structure.enroll_students(actor=actor, class_id=class_id, student_ids=student_ids)
    except Invalid:
        return _students_page(class_id, problem=UNKNOWN_STUDENT), 400
    flash(
        f"{result.enrolled} student(s) added to {result.school_class.name}; "
        f"{result.total_enrolled} enrolled.",
        "success",
    )
    return redirect(url_for("web.admin_class_students", class_id=class_id))


@bp.get("/admin/classes/<uuid:class_id>/students/<uuid:student_id>/remove")
@login_required
def admin_class_unenroll_confirm(class_id: uuid.UUID, student_id: uuid.UUID):
    """Ask before removing a student from a class (their records are kept)."""
    enrolment = listings.enrolment_for(
        actor=current_actor(), class_id=class_id, student_id=student_id
    )
    return render_template("admin/enrolment_remove.html", enrolment=enrolment)


@bp.post("/admin/classes/<uuid:class_id>/students/<uuid:student_id>/remove")
@login_required
def admin_class_unenroll(class_id: uuid.UUID, student_id: uuid.UUID):
    """Remove a student from a class; their attendance records stay."""
    enrolment = listings.enrolment_for(
        actor=current_actor(), class_id=class_id, student_id=student_id
    )
    structure.unenroll_student(actor=current_actor(), class_id=class_id, student_id=student_id)
    flash(
        REMOVED.format(name=enrolment.student.user.full_name, klass=enrolment.school_class.name),
        "success",
    )
    return redirect(url_for("web.admin_class_students", class_id=class_id))
