"""The demo school of ``flask --app wsgi demo``: ``plan`` decides it from a seed, ``loader``
writes it through the services (idempotently) and says what it did."""
