"""/admin/records: the admin's list of attendance records, one record's page, deletion."""

from __future__ import annotations

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required

from attendance_app.models import Channel
from attendance_app.services.errors import Invalid
from attendance_app.services.marking import deletion
from attendance_app.services.reporting import record_detail, records
from attendance_app.web import bp, current_actor
from attendance_app.web.args import date_arg, page_arg, status_arg, uuid_arg

DELETED = "The attendance record was deleted."
FIX_THE_PERIOD = "No records are listed until the dates are fixed."


def _filters(problems: list[str]) -> records.RecordFilters:
    return records.RecordFilters(
        status=status_arg(problems),
        subject_id=uuid_arg("subject_id", "subject", problems),
        class_id=uuid_arg("class_id", "class", problems),
        teacher_id=uuid_arg("teacher_id", "teacher", problems),
        date_from=date_arg("date_from", "From", problems),
        date_to=date_arg("date_to", "To", problems),
        search=request.args.get("q", "").strip(),
    )


def _args(filters: records.RecordFilters) -> dict[str, str]:
    """The page's valid filters as its query arguments (for its page links)."""
    values = {
        "status": filters.status.value if filters.status else None,
        "subject_id": filters.subject_id,
        "class_id": filters.class_id,
        "teacher_id": filters.teacher_id,
        "date_from": filters.date_from,
        "date_to": filters.date_to,
        "q": filters.search,
    }
    return {key: str(value) for key, value in values.items() if value}


def _export_args(filters: records.RecordFilters) -> dict[str, str]:
    """The same filters as the CSV export's arguments: the download holds the listed records."""
    args = _args(filters)
    if "q" in args:
        args["search"] = args.pop("q")
    return args


@bp.get("/admin/records")
@login_required
def admin_records():
    """Attendance records for admins: filters, search, pages (others: 403). A bad filter value
    is named and not applied; a period that ends before it starts lists nothing and says so."""
    problems: list[str] = []
    filters = _filters(problems)
    try:
        found = records.list_records(actor=current_actor(), filters=filters, page=page_arg())
    except Invalid as exc:  # the period is reversed
        problems.append(exc.message)
        found = None
    return render_template(
        "admin/records.html",
        found=found,
        filters=filters,
        args=_args(filters),
        export_args=_export_args(filters),
        options=records.filter_options(actor=current_actor()),
        problems=problems,
        fix_the_period=FIX_THE_PERIOD,
    )


@bp.get("/admin/records/<uuid:record_id>")
@login_required
def admin_record(record_id: uuid.UUID):
    """One record: its session, student and audit trail, and a link to delete it."""
    return _record_page(record_id, confirm=False)


@bp.get("/admin/records/<uuid:record_id>/delete")
@login_required
def admin_record_delete_confirm(record_id: uuid.UUID):
    """Ask before deleting."""
    return _record_page(record_id, confirm=True)


def _record_page(record_id: uuid.UUID, *, confirm: bool):
    detail = record_detail.record_detail(actor=current_actor(), record_id=record_id)
    return render_template(
        "admin/record.html",
        detail=detail,
        confirm=confirm,
        superuser_only=deletion.ENDED_NEEDS_SUPERUSER,
    )


@bp.post("/admin/records/<uuid:record_id>/delete")
@login_required
def admin_record_delete(record_id: uuid.UUID):
    """Delete the record (an ENDED session's only by a superuser), then back to the list."""
    deletion.delete_record(actor=current_actor(), record_id=record_id, channel=Channel.WEB)
    flash(DELETED, "success")
    return redirect(url_for("web.admin_records"))
