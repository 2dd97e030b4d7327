"""gunicorn settings for `make run` and production (`gunicorn -c gunicorn.conf.py wsgi:app`).

gevent workers: a request waiting on a provider or on PostgreSQL (psycopg waits cooperatively once
gevent has patched the standard library, which gunicorn's gevent worker does before it loads the app)
costs a greenlet, not a thread, so one worker holds up to GATEWAY_WORKER_CONNECTIONS requests in
flight, and a slow provider cannot use up the workers. Database connections stay bounded by the
pool (GATEWAY_DATABASE_POOL_SIZE per worker), and no connection is held during a provider call.
bench/README.md has the measurements behind the choice. GATEWAY_WORKER_CLASS=gthread (with
GATEWAY_THREADS) is the fallback for a platform without gevent.

In sandbox mode the simulators are mounted in this same server, so a create_order request calls
back into it: that needs a second request in flight, which both worker classes allow.
"""

import os

bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GATEWAY_WORKERS", "2"))
worker_class = os.environ.get("GATEWAY_WORKER_CLASS", "gevent")
worker_connections = int(os.environ.get("GATEWAY_WORKER_CONNECTIONS", "1000"))
threads = int(os.environ.get("GATEWAY_THREADS", "8"))  # gthread only
timeout = 60  # above IOTPAY_TIMEOUT, so a slow IOTPay gives a 504, not a killed worker
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GATEWAY_LOG_LEVEL", "info")
# Query strings of /notify carry no secret, but keep access logs to the path: they outlive the app's logs.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'

# The gateway's own loggers (gateway.*, plugins.*) go to stderr beside gunicorn's, at `loglevel`.
logconfig_dict = {
    "root": {"level": loglevel.upper(), "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {
            "level": "INFO",
            "handlers": ["error_console"],
            "propagate": False,
            "qualname": "gunicorn.error",
        },
        "gunicorn.access": {
            "level": "INFO",
            "handlers": ["console"],
            "propagate": False,
            "qualname": "gunicorn.access",
        },
    },
}
