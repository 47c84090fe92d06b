"""ClickCapture around a tiny WSGI app: the token goes into a cookie, the URL is cleaned."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from partner_sdk.click_capture import ClickCapture, click_token_from_cookie_header, click_token_from_environ


@Request.application
def shop(request: Request) -> Response:
    return Response(f"page {request.path} token={click_token_from_environ(request.environ)}")


def client(**options: Any) -> Client:
    return Client(ClickCapture(shop, **options))


def cookie_of(response) -> str:
    return response.headers["Set-Cookie"]


def test_a_landing_with_lp_click_sets_a_first_party_cookie_and_redirects_without_it():
    response = client().get("/products/42?utm_source=aff&lp_click=tok.EN-1_x&color=red%20blue")

    assert response.status_code == 302
    assert response.headers["Location"] == "/products/42?utm_source=aff&color=red%20blue"
    cookie = cookie_of(response)
    assert cookie.startswith("lp_click=tok.EN-1_x;")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", f"Max-Age={30 * 24 * 3600}", "Path=/"):
        assert attribute in cookie.split("; ")


def test_the_only_parameter_leaves_a_clean_path():
    response = client().get("/?lp_click=abc")

    assert response.headers["Location"] == "/"


def test_cookie_name_and_attribution_window_are_configurable():
    response = client(cookie_name="aff_click", max_age_s=90 * 24 * 3600).get("/landing?lp_click=abc")

    cookie = cookie_of(response)
    assert cookie.startswith("aff_click=abc;")
    assert f"Max-Age={90 * 24 * 3600}" in cookie


def test_the_next_request_carries_the_token_to_checkout():
    browser = client()
    browser.get("/landing?lp_click=abc")  # werkzeug's client keeps cookies (Secure is fine on localhost)

    page = browser.get("/checkout")

    assert page.get_data(as_text=True) == "page /checkout token=abc"


@pytest.mark.parametrize("method", ["POST", "HEAD", "PUT"])
def test_other_methods_pass_through_untouched(method):
    response = client().open("/landing?lp_click=abc", method=method)

    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_requests_without_the_parameter_pass_through():
    response = client().get("/landing?lp_clicks=1&x=lp_click")

    assert response.status_code == 200
    assert response.get_data(as_text=True) == "page /landing token=None"


def test_a_value_that_is_not_a_token_is_dropped_but_still_removed_from_the_url():
    response = client().get("/landing?lp_click=%3Cscript%3E&a=1")

    assert response.status_code == 302
    assert response.headers["Location"] == "/landing?a=1"
    assert "Set-Cookie" not in response.headers


def test_the_redirect_never_leaves_the_site():
    response = client().get("//evil.example/path?lp_click=abc")

    assert not response.headers["Location"].startswith("//")


def test_non_ascii_paths_are_kept_percent_encoded():
    response = client().get("/caf%C3%A9?lp_click=abc")

    assert response.headers["Location"] == "/caf%C3%A9"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("session=1; lp_click=abc.def", "abc.def"),
        ("lp_click=<bad>", None),
        ("other=1", None),
    ],
)
def test_reading_the_token_from_a_cookie_header(header, expected):
    assert click_token_from_cookie_header(header) == expected


def test_bad_options_are_refused():
    with pytest.raises(ValueError):
        ClickCapture(shop, max_age_s=0)
    with pytest.raises(ValueError):
        ClickCapture(shop, cookie_name="bad name")
