"""The replicated state: schema, deterministic apply, snapshots and read queries, all in MySQL."""
