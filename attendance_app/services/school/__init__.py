"""The school itself: people and their logins, API tokens, subjects, classes and enrolments,
the back office's listings, and the CSV import of students."""
