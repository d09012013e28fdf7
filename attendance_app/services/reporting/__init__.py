"""The read side with rules: session statistics, a student's history, analytics and risk,
the admin dashboard, the records list and detail, CSV exports. Constant query counts."""
