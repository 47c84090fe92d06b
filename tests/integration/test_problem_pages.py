"""Every problem `type` of the API resolves to a page that says what it means."""

from __future__ import annotations

import html

import pytest

from app.errors import PROBLEMS


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_every_problem_type_has_a_page_with_its_title_and_meaning(client, name):
    page = client.get(f"/problems/{name}")

    assert (page.status_code, page.mimetype) == (200, "text/html")
    text = html.unescape(page.get_data(as_text=True))
    assert PROBLEMS[name].title in text
    assert PROBLEMS[name].explained() in text
    assert f"HTTP status {PROBLEMS[name].status}" in text


def test_the_types_the_platform_raises_are_explained_in_words_of_their_own():
    ours = [name for name, problem in PROBLEMS.items() if problem.status in (400, 401, 404, 409, 422, 429, 500, 503)]
    generic = [name for name in ours if not PROBLEMS[name].description]

    assert generic == []


def test_the_type_of_an_answer_resolves(client, merchant):
    refused = client.post("/v1/orders", json={"order_id": "x"}, headers=merchant["headers"])

    page = client.get(refused.get_json()["type"])

    assert page.status_code == 200 and refused.get_json()["title"] in html.unescape(page.get_data(as_text=True))


def test_an_unknown_type_is_a_404_page(client):
    page = client.get("/problems/no-such-problem")

    assert (page.status_code, page.mimetype) == (404, "text/html")
