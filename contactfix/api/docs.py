"""The API's docs page, served from our own files: Swagger UI from the swagger-ui-bundle package.

No CDN: on a bank's offline network a page that loads its scripts from the internet stays blank.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["mount_docs"]


def mount_docs(app: FastAPI, *, prefix: str, title: str) -> None:
    """Serve ``{prefix}/docs`` (Swagger UI on ``{prefix}/openapi.json``) and its assets on ``app``."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{prefix}/openapi.json",
            title=title,
            swagger_js_url=f"{prefix}/docs-assets/swagger-ui-bundle.js",
            swagger_css_url=f"{prefix}/docs-assets/swagger-ui.css",
            swagger_favicon_url=f"{prefix}/docs-assets/favicon-32x32.png",
        )
