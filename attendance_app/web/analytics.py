"""/classes/<id>/analytics: a class's rates over time, its students at risk and its latecomers."""

from __future__ import annotations

import uuid

from flask import render_template
from flask_login import login_required

from attendance_app.services.reporting import analytics, risk
from attendance_app.web import bp, current_actor


@bp.get("/classes/<uuid:class_id>/analytics")
@login_required
def class_analytics_page(class_id: uuid.UUID):
    """The class's teacher or an admin (others: 403; an unknown class: 404)."""
    result = analytics.class_analytics(actor=current_actor(), class_id=class_id)
    by_id = {row.student.id: row for row in result.students}
    return render_template(
        "classes/analytics.html",
        result=result,
        at_risk=[by_id[sid] for sid in result.at_risk],
        most_late=[by_id[sid] for sid in result.most_late],
        chart={
            "labels": [s.start_time.strftime("%Y-%m-%d %H:%M") for s in result.sessions],
            "rates": [s.attendance_rate for s in result.sessions],
        },
        thresholds=risk.Thresholds.from_config(),
    )
