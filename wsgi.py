"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

from gateway.ops.startup import app_or_exit

app = app_or_exit()  # create_app(), or one line on stderr when the configuration is refused
