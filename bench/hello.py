"""The baseline: a Flask hello-world, served by the same gunicorn settings as the gateway."""

from flask import Flask

app = Flask(__name__)


@app.route("/healthz")
@app.route("/hello", methods=["GET", "POST"])
def hello() -> str:
    return "success"


def rsgi_app() -> object:
    """The same app for granian (`--factory`), behind the gateway's RSGI bridge with its settings."""
    from gateway.ops.client_limits import ClientLimits
    from gateway.ops.rsgi_bridge import WSGIOverRSGI, threads_from_environ

    return WSGIOverRSGI(app, threads=threads_from_environ(), limits=ClientLimits.from_environ())
