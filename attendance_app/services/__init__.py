"""The domain layer: every rule, message, permission check and write of Attendance.

Edges (web, api, live, cli) import the functions they call from the submodules named for
what they hold: ``services.attendance``, ``services.sessions``, ``services.people``,
``services.school`` and the read side ``services.statistics``.
"""
