"""docs/api.md's route table is the one generated from app.url_map and the auth markers."""

from __future__ import annotations

from app.routes_doc import DOC_PATH, api_operations, markdown_table, table_in, with_table


def test_the_route_table_in_the_api_guide_is_the_generated_one(app):
    assert table_in(DOC_PATH.read_text()) == markdown_table(app), (
        "docs/api.md is stale: run `python -m app.routes_doc --write`"
    )


def test_the_table_has_one_row_per_api_operation(app):
    rows = [line for line in markdown_table(app).splitlines() if line.startswith("| `")]

    assert len(rows) == len(api_operations(app))
    assert "| `POST` | `/v1/orders` | merchant |" in "\n".join(rows)
    assert "| `POST` | `/v1/merchants` | operator |" in "\n".join(rows)


def test_a_changed_route_makes_the_table_differ(app):
    document = with_table(DOC_PATH.read_text(), markdown_table(app).replace("| operator |", "| merchant |", 1))

    assert table_in(document) != markdown_table(app)
