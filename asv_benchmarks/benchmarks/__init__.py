"""airspeed velocity benchmarks of fasthinge (see ``common`` for the tables)."""
