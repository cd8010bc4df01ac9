"""gunicorn settings of the Galera task API baseline (passed explicitly, so the repository's gunicorn.conf.py,
which starts a taskraft node, is never picked up)."""

worker_class = "gthread"
workers = 1
threads = 16
keepalive = 5  # as taskraft
loglevel = "warning"
