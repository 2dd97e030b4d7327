"""`/`: where to go from here; `/docs`: Swagger UI over `/openapi.json`, every asset served from here.

Swagger UI's files come from the `swagger-ui-bundle` package, so the page works offline and
behind a firewall, and no third party learns who reads the docs.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template, request, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

from gateway.web.context import current_gateway

blp = Blueprint("docs", __name__)

# The files the page needs; nothing else of the package is served.
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"})


@blp.get("/")
def index() -> Response | str:
    links = [
        ("docs", "API documentation", url_for("docs.page"), "every endpoint, and a way to try them"),
        ("openapi", "OpenAPI document", "/openapi.json", "the same, for machines"),
        ("console", "Operator console", url_for("console.dashboard"), "orders, refunds, webhooks, safe actions"),
        ("health", "Health", "/healthz", "whether the database answers"),
    ]
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
        return jsonify({"name": "gateway", "links": {key: href for key, _title, href, _about in links}})
    return render_template(
        "index.html", links=[(t, h, a) for _k, t, h, a in links], sandbox=current_gateway().settings.sandbox
    )


@blp.get("/docs")
def page() -> str:
    return render_template("docs.html", openapi_url="/openapi.json")


@blp.get("/docs/assets/<filename>")
def asset(filename: str) -> Response:
    if filename not in ASSETS:
        abort(404)
    response = send_from_directory(swagger_ui_path, filename, max_age=86400)
    return response
