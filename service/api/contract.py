"""The API contract: the OpenAPI document at /api/v1/openapi.json and its reference page at /api/docs.

The page is Swagger UI as the `swagger-ui-py` package ships it (nothing from a CDN), started by
docs/init.js: no inline script, so a Content-Security-Policy without 'unsafe-inline' scripts holds.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, jsonify, send_from_directory

from .openapi import build_document
from .operations import OPERATIONS, PARAMETERS

OWN = Path(__file__).resolve().parent / "docs"  # index.html and init.js
SWAGGER_ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")

bp = Blueprint("contract", __name__)


@cache
def document() -> dict[str, Any]:
    """The document this node serves, built once per process from the registry (operations.py)."""
    return build_document(OPERATIONS, PARAMETERS)


def swagger_ui_dir() -> Path | None:
    """The Swagger UI files the swagger-ui-py package ships (None if it is not installed)."""
    spec = find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@bp.get("/api/v1/openapi.json")
def openapi_document():
    return jsonify(document())


@bp.get("/api/docs")
def docs_page():
    response = send_from_directory(OWN, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/api/docs/assets/<name>")
def docs_asset(name: str):
    if name == "init.js":
        return send_from_directory(OWN, name, max_age=0)
    folder = swagger_ui_dir()
    if name not in SWAGGER_ASSETS or folder is None:
        abort(404)
    return send_from_directory(folder, name, max_age=3600)
