"""Input no handler should ever see: NUL characters in query strings and form fields
(PostgreSQL refuses to store or compare them), refused before any view runs.

JSON bodies are checked field by field by ``app.schemas.StrictSchema``; a JSON
document nested deeper than the decoder's recursion limit is answered 400 by the
error registry (``app.errors``)."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import BadRequest

from app.schemas import text_storable


def _refuse_unstorable_text() -> None:
    values = list(request.args.values())
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += list(request.form.values())
    if not all(text_storable(value) for value in values):
        raise BadRequest("Query and form values may not contain NUL characters.")


def register(app: Flask) -> None:
    app.before_request(_refuse_unstorable_text)
