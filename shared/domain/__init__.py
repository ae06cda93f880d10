"""Pure, typed domain model: records, configuration, status. No I/O, no SDK imports."""
