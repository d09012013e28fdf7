"""A serving process's periodic jobs: which run, and a failed round never ends a job."""

from __future__ import annotations

import contextlib
import logging
import threading

import pytest

from attendance_app.tasks import PeriodicJob, jobs_for, run_periodically


class _Stop(BaseException):
    """Ends the job's loop from inside a round (the runner only survives Exceptions)."""


def test_a_failed_round_is_logged_and_the_job_runs_again(app, caplog):
    rounds: list[str] = []

    def round_() -> str:
        rounds.append("run")
        if len(rounds) == 1:
            raise RuntimeError("the mail server is down")
        if len(rounds) == 3:
            raise _Stop
        return "2 sent"

    def run() -> None:
        with contextlib.suppress(_Stop):
            run_periodically(app, PeriodicJob("outbox", 0.01, round_))

    with caplog.at_level(logging.INFO, logger="attendance_app.tasks"):
        worker = threading.Thread(target=run)
        worker.start()
        worker.join(10)

    assert not worker.is_alive()
    assert rounds == ["run", "run", "run"]
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("outbox failed; trying again") for m in messages), messages
    assert "outbox: 2 sent" in messages


def test_every_process_sweeps_signed_out_connections_and_nothing_else_by_default(app):
    with app.app_context():
        names = [job.name for job in jobs_for(app)]

    assert names == ["signed-out connections closed"]


def test_weekly_summaries_and_email_run_when_configured(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEEKLY_SUMMARY", "monday 06:00")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_SEND_INTERVAL", 30)

    with app.app_context():
        jobs = {job.name: job.every for job in jobs_for(app)}

    assert jobs == {
        "signed-out connections closed": 10,
        "weekly summaries sent": 15 * 60,
        "outbox": 30,
    }


def test_a_bad_schedule_stops_the_server_with_a_plain_message(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEEKLY_SUMMARY", "someday")

    with app.app_context(), pytest.raises(ValueError, match="WEEKLY_SUMMARY must be like"):
        jobs_for(app)


def test_the_guardian_digest_runs_when_configured_with_mail(app, monkeypatch):
    monkeypatch.setitem(app.config, "GUARDIAN_DIGEST_TIME", "16:00")
    with app.app_context():
        assert "guardian absence emails queued" not in [j.name for j in jobs_for(app)]
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_SEND_INTERVAL", 0)

    with app.app_context():
        jobs = {job.name: job.every for job in jobs_for(app)}

    assert jobs["guardian absence emails queued"] == 5 * 60


def test_a_bad_digest_time_stops_the_server_with_a_plain_message(app, monkeypatch):
    monkeypatch.setitem(app.config, "GUARDIAN_DIGEST_TIME", "teatime")

    with app.app_context(), pytest.raises(ValueError, match="GUARDIAN_DIGEST_TIME must be"):
        jobs_for(app)
