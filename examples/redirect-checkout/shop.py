"""A shop's side of a redirect checkout (Alipay, UnionPay, WeChat's browser), as small as it gets.

    python examples/redirect-checkout/shop.py --gateway http://127.0.0.1:8000 --port 8010

then open http://127.0.0.1:8010/buy. The shop creates the order with a return_url, sends the browser
to the order's next_action.url, and shows a return page that *waits* for the order to be paid.

The browser coming back proves nothing: it arrives whether or not the payment went through, and
anyone can type the address. So the return page never trusts the query string it arrives with; it
asks the shop's backend, which asks the gateway (GET /v1/orders/{id}), until the order is paid.
The gateway marks it paid only on the provider's verified notification, or when it asks the
provider itself (`?refresh=true`). A shop that receives the gateway's webhooks (order.paid) can
answer from its own records instead of asking.
"""

from __future__ import annotations

import argparse
import itertools
from html import escape
from typing import Any

import requests
from flask import Flask, abort, jsonify, redirect, url_for

RETURN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Your order</title></head>
<body><h1>Order {ref}</h1><p id="status">Checking your payment...</p>
<script>
// Ask our own backend (never the gateway directly: the API key stays on the server) every 2 seconds.
async function check() {{
  const answer = await (await fetch("{status_url}")).json();
  if (answer.status === "paid") {{
    document.getElementById("status").textContent = "Paid. Thank you!";
  }} else if (answer.status === "failed" || answer.status === "expired") {{
    document.getElementById("status").textContent = "The payment did not go through.";
  }} else {{
    setTimeout(check, 2000);
  }}
}}
check();
</script></body></html>"""


def create_shop(gateway_url: str, api_key: str | None = None, public_url: str | None = None) -> Flask:
    app = Flask(__name__)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    orders: dict[str, str] = {}  # the shop's order reference -> the gateway's order id
    references = (f"cart-{number}" for number in itertools.count(1))

    def gateway(method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{gateway_url}{path}", headers=headers, timeout=30, **kwargs)

    @app.get("/buy")
    def buy() -> Any:
        ref = next(references)
        return_url = (public_url or "") + url_for("returned", ref=ref, _external=public_url is None)
        created = gateway(
            "POST",
            "/v1/orders",
            json={
                "channel": "ALIPAY_PC",
                "amount": 2856,
                "currency": "CAD",
                "subject": "Coffee beans",
                "body": "1kg medium roast",
                "merchant_reference": ref,
                "return_url": return_url,
            },
        )
        if created.status_code != 201:
            abort(502, f"the gateway answered {created.status_code}: {created.text}")
        order = created.json()
        orders[ref] = order["id"]
        assert order["next_action"]["type"] == "redirect_to_url"
        return redirect(order["next_action"]["url"], 303)

    @app.get("/return/<ref>")
    def returned(ref: str) -> str:
        # Whatever the query string says (IOTPay adds its signed result, backType=1), it is not the answer.
        if ref not in orders:
            abort(404)
        return RETURN_PAGE.format(ref=escape(ref), status_url=url_for("status", ref=ref))

    @app.get("/status/<ref>")
    def status(ref: str) -> Any:
        if ref not in orders:
            abort(404)
        order = gateway("GET", f"/v1/orders/{orders[ref]}").json()
        return jsonify({"status": order["status"]})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="A shop that takes redirect payments through the gateway.")
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key")
    parser.add_argument("--port", type=int, default=8010)
    args = parser.parse_args()
    create_shop(args.gateway, args.api_key).run(port=args.port)


if __name__ == "__main__":
    main()
