"""Issue 21, point 7 (in part): Swagger UI and ReDoc come from the service's own files. A
browser that may reach nothing but the service opens ``/docs`` and ``/redoc`` and finds the
operations; every request the pages make stays on the service."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx

from services.ledger.api import create_app
from services.ledger.settings import LedgerSettings
from shared.settings import CommonSettings
from tests.conftest import over_http
from tests.system.test_dashboard import chromium_path


def test_the_docs_pages_work_with_no_network_but_the_service(tmp_path: Path) -> None:
    from playwright.sync_api import Route, sync_playwright

    executable = chromium_path()
    app = create_app(LedgerSettings(), CommonSettings(env="test", data_dir=tmp_path))
    with over_http(app) as base:
        for path in ("/docs", "/redoc"):
            answer = httpx.get(f"{base}{path}")
            assert "cdn" not in answer.text.lower() and "/docs-assets/" in answer.text
            assert "default-src 'self'" in answer.headers["content-security-policy"]
        service = urlsplit(base).netloc
        asked: list[str] = []
        refused: list[str] = []

        def closed_network(route: Route) -> None:
            url = route.request.url
            asked.append(url)
            if urlsplit(url).netloc == service:
                route.continue_()
            else:
                refused.append(url)
                route.abort()

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.route("**/*", closed_network)
                page.goto(f"{base}/docs")
                page.wait_for_selector(".opblock-summary-path", timeout=20_000)
                paths = page.locator(".opblock-summary-path").all_inner_texts()
                assert any("/v1/payables" in path for path in paths), paths
                page.goto(f"{base}/redoc")
                page.get_by_text("/v1/payables").first.wait_for(state="attached", timeout=20_000)
            finally:
                browser.close()
        assert refused == [], refused
        assert any(url.endswith("/openapi.json") for url in asked)
