"""The domain layer: every rule, message, permission check and write of Attendance.

The kernel sits here at the top: ``errors`` (the one family of refusals), ``transaction``
(``@unit_of_work``), ``events`` (recorded in the transaction, dispatched after commit),
``permissions`` (every role rule), ``paging``, ``clock`` (the school's time zone) and
``dialect`` (SQLite/PostgreSQL constructs). The domain is grouped by what it is about:

- ``marking``: sessions and their attendance — marks, bulk marks, taps, undo, the roster;
- ``reporting``: the read side — statistics, history, analytics, risk, dashboard, records,
  exports;
- ``school``: people, API tokens, subjects/classes/enrolments, back-office listings, the
  student CSV import;
- ``notifying``: alerts, the bell, the email outbox, weekly summaries.

Edges (web, api, live, cli) import the module they call, e.g.
``from attendance_app.services.marking import attendance``; packages re-export nothing.
"""
