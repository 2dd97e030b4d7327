"""gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app`. They live in the package
(gateway/gunicorn_conf.py) so that the installed `gateway run` uses the very same ones."""

from gateway.gunicorn_conf import *  # noqa: F403
