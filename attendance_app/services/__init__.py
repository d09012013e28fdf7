"""The domain layer: every rule, message, permission check and write of Attendance.

The kernel sits here at the top: ``errors`` (the one family of refusals), ``transaction``
(``@unit_of_work``, ``affected_rows`` for compare-and-set writes), ``events`` (recorded in
the transaction, dispatched after commit), ``permissions`` (every role rule), ``paging``,
``clock`` (the school's time zone), ``dialect`` (SQLite/PostgreSQL constructs), ``fields``
(lengths from the models, the one-line rule) and ``security_log``. Typed strictly (mypy).
The domain is grouped by what it is about:

- ``marking``: sessions and their attendance — marks, bulk marks, taps, undo, the roster,
  deletion, self check-in;
- ``reporting``: the read side — statistics, history, analytics, risk, dashboard, records,
  exports;
- ``school``: people, sign-in (throttle, passwords, two-factor, browser sessions), API
  tokens, subjects/classes/enrolments, back-office listings, the student CSV import;
- ``notifying``: alerts, the bell, the email outbox, weekly summaries.

Edges (web, api, live, cli) import the module they call, e.g.
``from attendance_app.services.marking import attendance``; packages re-export nothing.
"""
