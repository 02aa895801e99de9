"""Scheduled work (APScheduler 3.x): releases, reservation deadlines, outbox, housekeeping."""
