"""Ingest: booking-system exports -> checked rows in the warehouse's raw tables.

formats/ reads each export (one adapter per booking system), validate.py checks every row,
pii.py turns client details into keys, load.py stores what passed, inspect.py shows what a load
would do, upload_worker.py runs the Data page's uploads through the same pipeline."""
