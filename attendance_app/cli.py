"""``flask create-user / demo / serve / send-mail / weekly-summary / guardian-digest``: thin
commands over the services."""

from __future__ import annotations

import os
import sys

import click
from flask import Flask
from flask.cli import with_appcontext

from attendance_app.models import Role
from attendance_app.services import security_log
from attendance_app.services.errors import DomainError


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--first-name", required=True)
@click.option("--last-name", required=True)
@click.option("--student-id", default=None, help="The school's student number (STUDENT only).")
@click.option(
    "--superuser", is_flag=True, help="ADMIN only: may also delete records of ended sessions."
)
@with_appcontext
def create_user_command(email, password, role, first_name, last_name, student_id, superuser):
    """Create a user (no actor needed: this is how the first admin is made)."""
    from attendance_app.services.school.people import create_user

    try:
        user = create_user(
            actor=None,
            email=email,
            password=password,
            first_name=first_name,
            last_name=last_name,
            role=Role(role),
            student_number=student_id,
            is_superuser=superuser,
        )
    except DomainError as err:
        field = f"{err.field}: " if err.field else ""
        raise click.ClickException(f"{field}{err.message}") from err
    click.echo(f"Created {user.role.value} {user.email} ({user.id})")


#: Where ``flask demo`` may run: it creates a superuser whose password is in the source.
DEMO_ENVS = {"development", "test"}


@click.command("demo")
@with_appcontext
def demo_command():
    """Load a small, realistic demo school (idempotent) and print the logins
    (development only: its superuser's password is public)."""
    from flask import current_app

    from attendance_app.demo.loader import load_demo

    env = current_app.config.get("ENV_NAME")
    if env not in DEMO_ENVS:
        raise click.ClickException(
            f"flask demo creates a superuser with a published password: it runs only with "
            f"ATTENDANCE_ENV=development, not {env!r}."
        )

    try:
        with security_log.held_back() as held:
            summary = load_demo()
    except DomainError as err:
        raise click.ClickException(err.message) from err
    click.echo(summary.describe())
    if held:
        events = ", ".join(f"{n} {event}" for event, n in sorted(held.items()))
        click.echo(f"(The load's security events were counted, not logged: {events}.)")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
def serve_command(host: str, port: int):
    """Serve pages, API and Socket.IO in one production process (eventlet or gevent).

    The server is started in a fresh interpreter whose first act is monkey-patching, which
    cannot happen here: the flask CLI has already imported the app before this runs.
    """
    args = [sys.executable, "-m", "attendance_app.server", "--host", host, "--port", str(port)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, args)


@click.command("send-mail")
@click.option("--loop", is_flag=True, help="Keep sending every MAIL_SEND_INTERVAL seconds.")
@click.option(
    "--test", "test_to", metavar="ADDRESS", default=None, help="Queue a test email to ADDRESS."
)
@with_appcontext
def send_mail_command(loop: bool, test_to: str | None):
    """Send the emails waiting in the outbox (alerts, notices, weekly summaries).

    A mail server that is down is not an error here: the emails wait and are retried with
    backoff; the line printed says what happened. ``--test you@school`` checks the settings.
    """
    import time

    from flask import current_app

    from attendance_app.services.notifying import outbox

    if not outbox.mail_enabled():
        raise click.ClickException("MAIL_SERVER is not set: there is no mail server to send to.")
    if test_to:
        outbox.queue_test(test_to)
    while True:
        report = outbox.send_due()
        line = f"sent {report.sent}, failed {report.failed}, waiting {report.waiting}"
        click.echo(line + (f" ({report.error})" if report.error else ""))
        if not loop:
            return
        time.sleep(max(1, current_app.config.get("MAIL_SEND_INTERVAL", 30)))


@click.command("weekly-summary")
@click.option(
    "--week-ending",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The last day (UTC) of the week to summarise; default yesterday.",
)
@with_appcontext
def weekly_summary_command(week_ending):
    """Send each teacher the summary of their classes' week (once per week: safe to rerun)."""
    from datetime import timedelta

    from attendance_app.models import utcnow
    from attendance_app.services.notifying.weekly import send_weekly_summaries

    day = week_ending.date() if week_ending else (utcnow() - timedelta(days=1)).date()
    sent = send_weekly_summaries(week_ending=day)
    click.echo(f"Weekly summaries for the week ending {day.isoformat()}: {sent} sent.")


@click.command("guardian-digest")
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The school day whose absences to email; default today (school time).",
)
@with_appcontext
def guardian_digest_command(day):
    """Queue the day's absence emails to guardians (once per student and day: safe to rerun)."""
    from attendance_app.models import utcnow
    from attendance_app.services.clock import school_time
    from attendance_app.services.notifying.guardian_digest import send_guardian_digests

    which = day.date() if day else school_time(utcnow()).date()
    queued = send_guardian_digests(day=which)
    click.echo(f"Guardian emails for {which.isoformat()}: {queued} queued.")


def register(app: Flask) -> None:
    for command in (
        create_user_command,
        demo_command,
        serve_command,
        send_mail_command,
        weekly_summary_command,
        guardian_digest_command,
    ):
        app.cli.add_command(command)
