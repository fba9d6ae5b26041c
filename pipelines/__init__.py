"""studio-ops pipelines: load booking-system exports into a DuckDB warehouse."""
