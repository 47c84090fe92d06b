"""The API's reference, browsable at /docs: Swagger UI over /openapi.json, served from
this site (the swagger-ui-bundle package's files), so it works offline and under a
strict Content-Security-Policy (app/security_headers.py gives this page its own)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

from app.identity.auth import public

blp = Blueprint("docs", __name__)
# The files the page loads; anything else of the bundle is not served.
_ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"})

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Loyalty platform API</title>
<link rel="stylesheet" href="{css}">
<link rel="icon" type="image/png" href="{icon}">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec}"></div>
<script src="{bundle}"></script>
<script src="{preset}"></script>
<script src="{init}"></script>
</body>
</html>
"""


@blp.get("/docs")
@public
def page():
    """The API reference (Swagger UI)."""
    html = _PAGE.format(
        css=url_for("docs.asset", filename="swagger-ui.css"),
        icon=url_for("docs.asset", filename="favicon-32x32.png"),
        spec=url_for("api-docs.openapi_json"),
        bundle=url_for("docs.asset", filename="swagger-ui-bundle.js"),
        preset=url_for("docs.asset", filename="swagger-ui-standalone-preset.js"),
        init=url_for("static", filename="docs-init.js"),
    )
    return Response(html, mimetype="text/html")


@blp.get("/docs/assets/<path:filename>")
@public
def asset(filename: str):
    if filename not in _ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_path, filename)
