"""Answers that are JSON by default and CSV with ``Accept: text/csv``: one way to
document them in the OpenAPI text and one way to choose."""

from __future__ import annotations

import marshmallow as ma
from flask import Response, request
from flask_smorest import Blueprint


def documented(blp: Blueprint, schema: type[ma.Schema], description: str, rows: str):
    """Document a 200 answer that is ``schema`` as JSON, or CSV (``rows`` says what its lines are)."""
    return blp.doc(
        responses={
            "200": {
                "description": description,
                "content": {
                    "application/json": {"schema": schema},
                    "text/csv": {"schema": {"type": "string", "description": rows}},
                },
            }
        }
    )


def wants_csv() -> bool:
    """The caller prefers CSV to JSON."""
    return request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


def csv_response(text: str) -> Response:
    return Response(text, mimetype="text/csv")
