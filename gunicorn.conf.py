"""gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app`. They live in the package
(gateway/ops/gunicorn_conf.py) so that the installed `gateway run` uses the very same ones."""

from gateway.ops.gunicorn_conf import *  # noqa: F403
