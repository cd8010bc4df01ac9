"""Consensus: PySyncObj with a durable journal, snapshot hooks, published status and proposals."""
