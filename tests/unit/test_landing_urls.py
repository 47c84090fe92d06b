"""Landing URLs: https on a merchant's domain or a subdomain, refused otherwise."""

from __future__ import annotations

import pytest

from app.affiliates.urls import BadLandingUrl, check_landing_url, website_host
from app.clicks.services import Target, counted
from app.clicks.views import with_click_token

DOMAINS = ["shop.com"]


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.com",
        "https://shop.com/",
        "https://SHOP.com/Path?q=1#frag",
        "https://www.shop.com/a/b?x=1&y=2",
        "https://shop.com:443/",
        "https://shop.com./x",
    ],
)
def test_https_urls_on_the_domain_or_a_subdomain_pass(url):
    assert check_landing_url(url, DOMAINS) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://shop.com/",
        "ftp://shop.com/",
        "javascript:alert(document.cookie)",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.io",
        "///evil.io",
        "https://evil.io/",
        "https://shop.com../x",
        "https://shop.com.../",
        "https://shop..com/",
        "https://shop.com.evil.io/",
        "https://evilshop.com/",
        "https://xshop.com/",
        "https://shop.co/",
        "https://shop.com@evil.io/",
        "https://evil.io@shop.com/",
        "https://shop.com:pw@evil.io/",
        "https://evil.io\\@shop.com/",
        "https:\\\\shop.com",
        "https:/shop.com",
        "https:shop.com",
        "https://shop.com:8443/",
        "https://shop.com:0/",
        "https://shop.com:/",
        "https://shop.com/\tpath",
        "https://shop.com/\npath",
        " https://shop.com/",
        "https://shop.com\x00.evil.io/",
        "https://shop%2ecom/",
        "https://xn--shp-ze0a.com/",  # a look-alike in punycode, not a registered domain
        "https://shоp.com/",  # Cyrillic о
        "https://shop。com/",  # ideographic full stop
        "https://shop．com/",  # fullwidth full stop
        "https://[::1]/",
        "https://127.0.0.1/",
        "https://",
        "https://shop.com" + "/a" * 1100,
    ],
)
def test_everything_else_is_refused(url):
    with pytest.raises(BadLandingUrl):
        check_landing_url(url, DOMAINS)


def test_a_registered_international_domain_passes_in_its_xn_form():
    assert check_landing_url("https://xn--bcher-kva.example/", ["xn--bcher-kva.example"])


def test_the_click_token_is_added_keeping_the_landing_query_and_fragment():
    location = with_click_token("https://shop.com/p?color=red&size=42#reviews", "T0K-en_")

    assert location == "https://shop.com/p?color=red&size=42&lp_click=T0K-en_#reviews"
    assert with_click_token("https://shop.com", "t") == "https://shop.com?lp_click=t"
    assert with_click_token("https://shop.com/?lp_click=forged&a=1", "t") == "https://shop.com/?a=1&lp_click=t"


@pytest.mark.parametrize(
    ("method", "agent", "expected"),
    [
        ("GET", "Mozilla/5.0 (Windows NT 10.0) Firefox/120.0", True),
        ("HEAD", "Mozilla/5.0 (Windows NT 10.0) Firefox/120.0", False),
        ("GET", "", False),
        ("GET", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", False),
        ("GET", "facebookexternalhit/1.1", False),
        ("GET", "Twitterbot/1.0", False),
        ("GET", "Mozilla/5.0 (compatible; Discordbot/2.0)", False),
        ("GET", "WhatsApp/2.23.20.0", False),
        ("GET", "LinkedInBot/1.0", False),
        ("GET", "TelegramBot (like TwitterBot)", False),
        ("GET", "Mozilla/5.0 (compatible; Googlebot/2.1)", False),
        ("GET", "Mozilla/5.0 (compatible; bingbot/2.0)", False),
        ("GET", "curl/8.5.0", False),
        ("GET", "python-requests/2.31", False),
    ],
)
def test_bots_previews_scripts_and_head_requests_are_not_counted(method, agent, expected):
    assert counted(method, agent) is expected


def test_the_website_host_is_read_with_or_without_a_scheme():
    assert website_host("https://Blog.Example/path") == "blog.example"
    assert website_host("blog.example") == "blog.example"


@pytest.mark.parametrize(
    "landing_url",
    [
        "https://shop.com",
        "https://shop.com/",
        "https://shop.com/p?color=red&size=42#reviews",
        "https://shop.com/?lp_click=forged&a=1",
        "https://shop.com/p#only-a-fragment",
        "https://shop.com/p?a=1&&b=2&lp_click=x#f",
        "https://shop.com./x?q=%20a",
    ],
)
def test_a_cached_links_location_is_what_with_click_token_builds(landing_url):
    target = Target(link_id=1, affiliate_id=2, program_id=3, landing_url=landing_url)

    assert target.location("T0K-en_.x") == with_click_token(landing_url, "T0K-en_.x")
