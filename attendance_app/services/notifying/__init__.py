"""Telling people: alerts decided inside a mark's transaction, the bell, the email outbox
and the weekly summaries."""
