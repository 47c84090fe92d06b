"""Bodies take JSON's types at their word: no float for an integer, no number for a boolean."""

from __future__ import annotations

import marshmallow as ma
import pytest

from app.schemas import StrictSchema


class Body(StrictSchema):
    count = ma.fields.Integer()
    ids = ma.fields.List(ma.fields.Integer())
    enabled = ma.fields.Boolean()
    name = ma.fields.String()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"count": 1.5}, "count"),
        ({"count": 2.0}, "count"),
        ({"ids": [1, 2.5]}, "ids"),
        ({"enabled": 0}, "enabled"),
        ({"enabled": 1}, "enabled"),
        ({"enabled": 1.0}, "enabled"),
    ],
)
def test_a_json_number_of_the_wrong_kind_is_refused_naming_its_field(data, field):
    with pytest.raises(ma.ValidationError) as refused:
        Body().load(data)

    assert list(refused.value.messages) == [field]


def test_json_integers_booleans_and_strings_from_a_query_still_load():
    loaded = Body().load({"count": 3, "ids": [1, 2], "enabled": True, "name": "x"})
    from_query = Body().load({"count": "3", "enabled": "false"})

    assert loaded == {"count": 3, "ids": [1, 2], "enabled": True, "name": "x"}
    assert from_query == {"count": 3, "enabled": False}
