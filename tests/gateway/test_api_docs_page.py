"""/docs serves Swagger UI over the gateway's own OpenAPI document, every asset from the gateway;
`/` points people to /docs and /console."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit


class AssetLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.openapi_url: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img") and values.get("src"):
            self.urls.append(str(values["src"]))
        if tag == "link" and values.get("href"):
            self.urls.append(str(values["href"]))
        if values.get("data-openapi-url"):
            self.openapi_url = values["data-openapi-url"]


def test_the_docs_page_loads_every_asset_from_the_gateway(client: Any) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    links = AssetLinks()
    links.feed(page.data.decode())
    assert any(url.endswith("swagger-ui-bundle.js") for url in links.urls)
    assert any(url.endswith(".css") for url in links.urls)
    for url in links.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{url} is not served by the gateway"
        with client.get(url) as asset:  # a file response: closed, or it warns
            assert asset.status_code == 200, url
            assert len(asset.data) > 100, url
    assert links.openapi_url == "/openapi.json"
    document = client.get(links.openapi_url).get_json()
    assert "/v1/orders" in document["paths"]


def test_only_swagger_ui_files_are_served_from_the_package(client: Any) -> None:
    for name in ("index.html", "../__init__.py", "swagger-initializer.js"):
        assert client.get(f"/docs/assets/{name}").status_code == 404


def test_the_root_url_points_to_the_docs_and_the_console(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert 'href="/docs"' in page.data.decode() and 'href="/console/"' in page.data.decode()
    links = client.get("/", headers={"Accept": "application/json"}).get_json()["links"]
    assert links["docs"] == "/docs" and links["console"] == "/console/"
