"""The DuckDB warehouse, one module per job.

- store: connect, lock, migrate, publish a build, remove what a killed load left;
- models: the SQL models, their order from their `-- reads:` lines, running one;
- build: `build_marts`, the full build and its checks;
- incremental: refreshing only what a load's change log touched;
- rooms: the room placement `int_booking_rooms` calls; retention: the settings-shaped
  `rpt_retention`;
- snapshot: the read-only reader the dashboard and `studio-ops status` use.
"""
