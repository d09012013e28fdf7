"""The entry point for ``flask --app wsgi`` and WSGI servers."""

from attendance_app import create_app

app = create_app()
