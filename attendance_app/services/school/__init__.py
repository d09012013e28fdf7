"""The school itself: people and how they sign in (throttling, password hashing off the
event loop, two-factor, browser-session timeouts), API tokens, subjects, classes and
enrolments, the back office's listings, and the CSV import of students."""
