"""The interactive API documentation, served from installed files: never from a CDN, so
``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) work on a closed network.

The pages are FastAPI's own; the scripts and styles they load are the Swagger UI and ReDoc
bundles that the ``fastapi-offline`` package ships, served by each service under
``/docs-assets``, with a content security policy that keeps the pages on the service. No
token is needed to read them, as for ``/openapi.json``: they describe the
API, and every operation they call still asks for its token.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs-assets"
# the pages may load only from the service itself: ReDoc's footer asks a CDN for its logo, which
# the browser now refuses without asking the network (the logo hides itself when it fails)
POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'"
)


def _closed(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = POLICY
    return page


def install_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc`` and their assets to an app built with both turned off."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    def page(request: Request) -> tuple[str, str, str]:
        """What both pages are given: the document, a title, and where the assets are."""
        root = request.scope.get("root_path", "")
        return f"{root}{app.openapi_url}", f"{app.title}: API", f"{root}{ASSETS_URL}"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        openapi_url, title, assets = page(request)
        return _closed(
            get_swagger_ui_html(
                openapi_url=openapi_url, title=title,
                swagger_js_url=f"{assets}/swagger-ui-bundle.js",
                swagger_css_url=f"{assets}/swagger-ui.css",
                swagger_favicon_url=f"{assets}/favicon.png",
                swagger_ui_parameters={"persistAuthorization": False},
            )
        )  # fmt: skip

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        openapi_url, title, assets = page(request)
        return _closed(
            get_redoc_html(
                openapi_url=openapi_url, title=title,
                redoc_js_url=f"{assets}/redoc.standalone.js",
                redoc_favicon_url=f"{assets}/favicon.png", with_google_fonts=False,
            )
        )  # fmt: skip
