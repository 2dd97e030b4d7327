"""The API key of test gateways: outside the sandbox the gateway refuses to start without one.

`KeyedClient` is a Flask test client that sends it on every request unless the request names
its own `Authorization`, so tests about something else read as a checkout backend's calls.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

TEST_API_KEY = "test-api-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


class KeyedClient(FlaskClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_AUTHORIZATION"] = AUTH["Authorization"]
