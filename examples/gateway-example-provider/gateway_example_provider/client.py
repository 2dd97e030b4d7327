"""Signed JSON calls to Example Pay's API, and what their answers mean.

- 200 with a JSON object: the answer.
- 4xx with Example Pay's `{"error": {"code", "message"}}`: a refusal, nothing was done
  (404 `not_found`: no such payment; 401 `bad_signature`: the gateway's own secret is wrong, so
  every call fails alike until an operator fixes it).
- anything else (a 5xx, an HTML page, garbage): unclear; Example Pay may or may not have acted.
- no answer in time: unknown as well; no connection at all: nothing was sent.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.plugin import NotFound, OutcomeUnknown, ProviderHttp, ProviderMisconfigured, Refused, Timeouts
from gateway_example_provider.config import ExampleConfig
from gateway_example_provider.signing import SIGNATURE_HEADER, sign

Json = dict[str, Any]


class ExampleClient:
    def __init__(self, config: ExampleConfig) -> None:
        self._secret = config.secret
        self.api_url = config.api_url.rstrip("/")
        # The core's transport: pooled connections, time-outs, and "no answer" raised as
        # ProviderUnreachable (nothing was sent) or ProviderTimeout (sent, perhaps acted on).
        self.http = ProviderHttp("Example Pay", "gateway-example-provider", Timeouts.reading(config.timeout))

    def call(self, operation: str, payload: Json) -> Json:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self._secret, body)}
        url = f"{self.api_url}/v1/{operation}"
        response = self.http.post(url, what=operation, data=body, headers=headers)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        error = answer.get("error") if isinstance(answer, dict) else None
        if 400 <= response.status_code < 500 and isinstance(error, dict):
            # Example Pay did nothing: it has no such payment (404), or it refused. Keep its own code and
            # message (it never puts our secret in them).
            kind = {404: NotFound, 401: ProviderMisconfigured}.get(response.status_code, Refused)
            raise kind(str(error.get("code", "error")), str(error.get("message", "")))
        if response.status_code != 200 or not isinstance(answer, dict):
            raise OutcomeUnknown(f"HTTP_{response.status_code}", "Example Pay's answer is unclear")
        return answer
