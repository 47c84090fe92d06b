"""The webhook URL check: every spelling of a non-public target is refused, public ones pass."""

from __future__ import annotations

import pytest

from app.webhooks import addresses
from app.webhooks.addresses import NotPublic, Refused, Target, checked_addresses, is_public, target_of
from tests.factories.webhooks import NOT_PUBLIC_URLS, PRIVATE_NAMES, PUBLIC_ADDRESS, FakeDns


@pytest.fixture
def dns(monkeypatch) -> FakeDns:
    fake = FakeDns().install(monkeypatch)
    fake.answers.update(PRIVATE_NAMES)
    fake.answers["hooks.shop.example"] = [PUBLIC_ADDRESS]
    return fake


def check(url: str, *, allow_insecure: bool = False) -> list[str]:
    return checked_addresses(target_of(url, allow_insecure=allow_insecure), allow_private=allow_insecure)


@pytest.mark.parametrize("url", NOT_PUBLIC_URLS)
def test_production_refuses_every_spelling_of_a_non_public_target(dns, url):
    with pytest.raises(NotPublic):
        check(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://good.shop.example@127.0.0.1/",
        "https://hooks.shop.example:x@127.0.0.1/",
        "https://:@hooks.shop.example/",
    ],
)
def test_userinfo_is_refused_whatever_it_says(dns, url):
    with pytest.raises(Refused, match="credentials"):
        check(url)


@pytest.mark.parametrize("url", ["https://" + "a" * 64 + ".example/", "https://a..shop.example/"])
def test_a_host_name_that_does_not_encode_as_idna_is_refused(dns, url):
    with pytest.raises(Refused, match="IDNA"):
        check(url)


def test_a_public_address_passes_and_is_what_a_delivery_connects_to(dns):
    assert check("https://hooks.shop.example/loyalty") == [PUBLIC_ADDRESS]
    assert check("https://93.184.216.34:8443/") == [PUBLIC_ADDRESS]
    assert check("https://[2606:2800:220:1:248:1893:25c8:1946]/") == ["2606:2800:220:1:248:1893:25c8:1946"]


def test_production_needs_https():
    with pytest.raises(Refused, match="https"):
        target_of("http://hooks.shop.example/", allow_insecure=False)


def test_development_reaches_loopback_for_its_test_receivers(dns):
    assert check("http://127.0.0.1:8000/hooks", allow_insecure=True) == ["127.0.0.1"]
    assert check("http://internal.shop.example/", allow_insecure=True) == ["10.0.0.5"]


def test_a_target_is_the_ascii_host_without_trailing_dot_and_the_path_with_its_query():
    assert target_of("https://Hooks.Shop.Example./in?x=1#frag", allow_insecure=False) == Target(
        "https", "hooks.shop.example", 443, "/in?x=1"
    )
    assert target_of("http://bücher.example:8080", allow_insecure=True) == Target(
        "http", "xn--bcher-kva.example", 8080, "/"
    )


def test_names_are_resolved_only_when_they_are_not_numeric(dns):
    with pytest.raises(NotPublic):
        check("https://0x7f.1/")
    assert dns.asked == []
    check("https://hooks.shop.example/")
    assert dns.asked == ["hooks.shop.example"]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("8.8.8.8", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("2002:5db8:d822::1", True),  # 6to4 of a public IPv4 address
        ("100.127.255.254", False),
        ("169.254.169.254", False),
        ("239.255.255.250", False),
        ("ff0e::1", False),
        ("fec0::1", False),
        ("2002:c0a8:101::1", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b:1::a00:1", False),
        ("not an address", False),
    ],
)
def test_is_public(address, public):
    assert is_public(address) is public


def test_the_refusal_names_no_address(dns):
    with pytest.raises(NotPublic) as refused:
        check("https://internal.shop.example/")
    assert "10.0.0.5" not in str(refused.value)
    assert addresses.NotPublic().args == refused.value.args
