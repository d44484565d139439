"""Jobs: the model and state machine, their records, the live tracker, groups and rate limits."""
