"""/docs serves Swagger UI from the platform itself: the page, the bundle's files it
loads (and no other file of the bundle), and the initializer pointing at /openapi.json."""

from __future__ import annotations

import re


def test_the_docs_page_loads_only_files_of_this_site(client):
    page = client.get("/docs")

    assert (page.status_code, page.mimetype) == (200, "text/html")
    body = page.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', body)
    assert sources and all(source.startswith("/") for source in sources)
    assert 'data-spec-url="/openapi.json"' in body
    assert "<script>" not in body  # no inline script: the initializer is a file
    for source in sources:
        response = client.get(source)
        response.close()  # a file answer keeps its file open until closed
        assert response.status_code == 200, source


def test_files_of_the_bundle_the_page_does_not_load_are_not_served(client):
    assert client.get("/docs/assets/index.html").status_code == 404
    assert client.get("/docs/assets/../__init__.py").status_code == 404
