"""The committed contract and schema are exactly what the code produces."""

from __future__ import annotations

from pathlib import Path

import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.extensions import db
from tests.conftest import make_app

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "flask --app wsgi openapi write --format yaml openapi.yaml"


def test_openapi_yaml_is_generated_from_the_current_schemas(app):
    committed = yaml.safe_load((ROOT / "openapi.yaml").read_text())

    with app.app_context():
        generated = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()

    assert committed == generated, f"openapi.yaml is stale: run `{REGENERATE}` and commit it"


def test_the_contract_documents_every_route_of_the_api(app):
    committed = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    routes = {
        rule.rule.replace("<id:", "{").replace("<string:", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/v1/")
    }

    assert routes == set(committed["paths"])


def test_a_fresh_database_upgraded_to_head_matches_the_models(databases):
    url = databases.new()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
            tables = set(inspect(conn).get_table_names())
    finally:
        engine.dispose()

    assert diff == [], f"models and migrations disagree: {diff}"
    assert {"ledger_entries", "ledger_postings", "orders", "merchants"} <= tables


def test_every_migration_downgrades_to_an_empty_database(databases):
    import flask_migrate

    url = databases.new()
    app = make_app(url)
    with app.app_context():
        flask_migrate.downgrade(revision="base")
        remaining = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        flask_migrate.upgrade(revision="head")
        db.engine.dispose()

    assert remaining == set()
