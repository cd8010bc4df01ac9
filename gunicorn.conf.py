# Production gunicorn settings: `gunicorn -c gunicorn.conf.py taskraft.wsgi:app`.
# The settings live in the package so `taskraft serve` and the image use the same ones.
from taskraft.gunicorn_conf import *  # noqa: F401,F403
