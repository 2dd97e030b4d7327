"""The baseline: a Flask hello-world, served by the same gunicorn settings as the gateway."""

from flask import Flask

app = Flask(__name__)


@app.route("/healthz")
@app.route("/hello", methods=["GET", "POST"])
def hello() -> str:
    return "success"
