"""The parameters each endpoint of the simulator takes, and Stripe's refusal of any other.

Stripe refuses a request that names a parameter it does not know, on every endpoint, GET or POST:
HTTP 400 `{"error": {"type": "invalid_request_error", "code": "parameter_unknown", "param": "<name>",
"message": "Received unknown parameter: <name>"}}`. A simulator that ignored one would let a plugin
that misspells a parameter (`limt=100`) pass, where Stripe turns down every such call.

Each set is Stripe's API reference (API version 2024-06-20) for what the simulator implements of the
endpoint; the other parameters Stripe takes there (`customer`, `receipt_email` ...) the plugin never
sends, and the simulator refuses them as unknown rather than pretend to honour them. Nested
parameters (`metadata[...]`, `payment_method_options[...]`) are judged by the endpoint's schema.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway_stripe.sandbox.store import Refused

EXPAND = "expand"  # every Stripe endpoint takes expand[]; the simulator expands nothing

PAYMENT_INTENT_CREATE = frozenset({
    "amount", "currency", "payment_method_types", "description", "metadata", "confirm", "payment_method_data",
    "payment_method_options", "return_url", EXPAND,
})  # fmt: skip
PAYMENT_INTENT_RETRIEVE = frozenset({"client_secret", EXPAND})
REFUND_CREATE = frozenset({"payment_intent", "amount", "reason", "metadata", EXPAND})
REFUND_LIST = frozenset({"payment_intent", "charge", "limit", "starting_after", "ending_before", "created", EXPAND})
REFUND_RETRIEVE = frozenset({EXPAND})


def refuse_unknown(names: Iterable[str], known: frozenset[str]) -> None:
    """Refused (400 parameter_unknown) for the first parameter whose top-level name is not `known`:
    `metadata[k]` is `metadata`, `expand[]` is `expand`."""
    for name in names:
        top = name.split("[", 1)[0]
        if top not in known:
            raise Refused("parameter_unknown", f"Received unknown parameter: {top}", top)
