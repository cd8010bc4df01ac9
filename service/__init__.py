"""taskraft: a replicated task service. Raft (PySyncObj) orders writes; each replica applies them to its own MySQL."""

__version__ = "0.1.0"
