"""What a serving process does beside requests: periodic jobs, one runner for all of them.

Each job is a plain function of the domain (or of the live edge) that needs an app context
and nothing else; the runner owns the sleeping (green under eventlet and gevent, through
Flask-SocketIO), the app context, the database session's cleanup and the rule that a failed
round is logged and retried at the next one, never the end of the job. Services therefore
never import socketio.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from attendance_app.extensions import db, socketio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    #: Said in the log when a round does something or fails.
    name: str
    #: Seconds between rounds; the first round runs after one interval, so a process that
    #: starts and stops at once (a health check, a test) does nothing.
    every: float
    #: One round, in an app context; a truthy result is logged ("sweep: 2").
    run: Callable[[], object]


def run_periodically(app: Flask, job: PeriodicJob) -> None:
    """Run ``job`` every ``job.every`` seconds for as long as the process lives."""
    while True:
        socketio.sleep(job.every)
        try:
            with app.app_context():
                try:
                    if outcome := job.run():
                        log.info("%s: %s", job.name, outcome)
                finally:
                    db.session.remove()
        except Exception:
            log.exception("%s failed; trying again in %s s", job.name, job.every)


def jobs_for(app: Flask) -> list[PeriodicJob]:
    """The jobs this app's settings ask for. Raises ValueError, saying which setting is
    wrong, for a setting a job cannot run with (the server then refuses to start)."""
    from attendance_app.live.connections import SWEEP_INTERVAL, sweep_once
    from attendance_app.services.notifying import guardian_digest, weekly

    sweep_every = float(app.config.get("LIVE_SWEEP_SECONDS") or SWEEP_INTERVAL)
    jobs = [PeriodicJob("signed-out connections closed", sweep_every, sweep_once)]
    schedule = weekly.parse_schedule(app.config.get("WEEKLY_SUMMARY", "off"))
    if schedule is not None:
        jobs.append(
            PeriodicJob(
                "weekly summaries sent",
                weekly.CHECK_EVERY_SECONDS,
                lambda: weekly.send_due_summaries(schedule),
            )
        )
    digest_at = guardian_digest.parse_digest_time(app.config.get("GUARDIAN_DIGEST_TIME", "off"))
    if digest_at is not None and app.config.get("MAIL_SERVER"):
        jobs.append(
            PeriodicJob(
                "guardian absence emails queued",
                guardian_digest.CHECK_EVERY_SECONDS,
                lambda: guardian_digest.send_due_digests(digest_at),
            )
        )
    interval = app.config.get("MAIL_SEND_INTERVAL", 0)
    if app.config.get("MAIL_SERVER") and interval > 0:
        jobs.append(PeriodicJob("outbox", interval, _send_outbox))
    return jobs


def _send_outbox() -> str | None:
    from attendance_app.services.notifying import outbox

    report = outbox.send_due()
    return f"{report.sent} sent, {report.failed} failed" if report.sent or report.failed else None


def start(app: Flask) -> list[PeriodicJob]:
    """Start this app's periodic jobs as background tasks of the serving process."""
    jobs = jobs_for(app)
    for job in jobs:
        socketio.start_background_task(run_periodically, app, job)
    return jobs
