"""URL converters: ids that the database can hold, so an absurd id is a 404, not a 500."""

from werkzeug.routing import BaseConverter

ID_DIGITS_MAX = 18  # below 2**63, the largest BIGINT


class IdConverter(BaseConverter):
    regex = rf"[0-9]{{1,{ID_DIGITS_MAX}}}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


def id_schema(_converter) -> dict:
    return {"type": "string", "pattern": rf"^[0-9]{{1,{ID_DIGITS_MAX}}}$"}
