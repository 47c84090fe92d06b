"""Webhooks cannot be aimed inside: production refuses non-public addresses at
registration and again at every delivery, connects to the address it checked,
follows no redirect, and logs failures without network details.

Production's URL rules come from WEBHOOK_ALLOW_INSECURE_URLS=False, set here on a
SQLite app (LOYALTY_ENV=production would also demand PostgreSQL and real secrets).
Host names go through a fake DNS; the connection step is replaced where a test
needs a "public" address to land on a receiver on loopback.
"""

from __future__ import annotations

import socket
import ssl
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.extensions import db
from app.unit_of_work import UnitOfWork
from app.webhooks import delivery
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from ledger.types import utcnow
from tests.conftest import ADMIN_KEY, make_app, serve
from tests.factories.merchants import auth, merchant_body
from tests.factories.orders import record_order
from tests.factories.webhooks import NOT_PUBLIC_URLS, PRIVATE_NAMES, PUBLIC_ADDRESS, FakeDns, register_endpoint
from tests.receiver import Receiver

HOST = "hooks.shop.example"
PUBLIC_URL = f"https://{HOST}/loyalty"
REFUSED = "refused: not a public address"


def _app(databases, *, production: bool):
    application = make_app(databases.new(), WEBHOOK_ALLOW_INSECURE_URLS=not production)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def prod_app(databases):
    yield from _app(databases, production=True)


@pytest.fixture(scope="module")
def dev_app(databases):
    yield from _app(databases, production=False)


@pytest.fixture
def dns(monkeypatch) -> FakeDns:
    fake = FakeDns().install(monkeypatch)
    fake.answers.update(PRIVATE_NAMES)
    fake.answers[HOST] = [PUBLIC_ADDRESS]
    return fake


@pytest.fixture
def connects(monkeypatch) -> list[tuple[list[str], int]]:
    """Every connection a delivery opens; none may reach the network: each is refused."""
    made: list[tuple[list[str], int]] = []

    def refuse(addresses, port, timeout_s):
        made.append((list(addresses), port))
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(delivery, "open_connection", refuse)
    return made


def shop_of(application) -> dict:
    created = application.test_client().post("/v1/merchants", json=merchant_body(), headers=auth(ADMIN_KEY))
    return {"id": created.get_json()["id"], "headers": auth(created.get_json()["api_key"])}


def subscribe(application, shop, url) -> dict:
    response = register_endpoint(application.test_client(), shop["headers"], url=url)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def deliver_once(application, *, production: bool) -> int:
    with application.app_context(), UnitOfWork(Session(db.engine), now=utcnow()) as uow:
        return delivery.deliver_due(uow, allow_insecure=not production)


def ordered_and_delivered(application, shop, *, production: bool) -> None:
    assert record_order(application.test_client(), shop["headers"]).status_code == 201
    assert deliver_once(application, production=production) >= 1


def attempts(application, shop, endpoint_id) -> list[dict]:
    page = application.test_client().get(f"/v1/webhook-endpoints/{endpoint_id}/attempts", headers=shop["headers"])
    assert page.status_code == 200
    return page.get_json()["data"]


@pytest.fixture(autouse=True)
def nothing_left_pending(prod_app, dev_app):
    """Each test counts its own attempts: retries a test leaves behind are closed after it."""
    yield
    for application in (prod_app, dev_app):
        with application.app_context(), Session(db.engine) as s:
            s.execute(update(WebhookDelivery).where(WebhookDelivery.status == "pending").values(status="failed"))
            s.commit()


@pytest.mark.parametrize("url", NOT_PUBLIC_URLS)
def test_registration_refuses_every_spelling_of_a_non_public_target(prod_app, dns, url):
    shop = shop_of(prod_app)
    client = prod_app.test_client()

    response = register_endpoint(client, shop["headers"], url=url)

    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert list(response.get_json()["errors"]) == ["url"]
    assert client.get("/v1/webhook-endpoints", headers=shop["headers"]).get_json()["data"] == []


@pytest.mark.parametrize("url", ["https://internal.shop.example/", "https://0x7f.1/", "https://[::ffff:7f00:1]/"])
def test_changing_the_url_to_a_non_public_target_is_refused_and_keeps_the_old_one(prod_app, dns, url):
    shop = shop_of(prod_app)
    endpoint = subscribe(prod_app, shop, PUBLIC_URL)
    client = prod_app.test_client()

    response = client.patch(f"/v1/webhook-endpoints/{endpoint['id']}", json={"url": url}, headers=shop["headers"])

    assert response.status_code == 422
    assert "url" in response.get_json()["errors"]
    shown = client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=shop["headers"]).get_json()
    assert shown["url"] == PUBLIC_URL


@pytest.mark.parametrize(
    "answer",
    [["127.0.0.1"], ["10.1.2.3"], ["169.254.169.254"], ["::1"], ["::ffff:127.0.0.1"], ["100.64.0.1"], ["fe80::1"]]
    + [[PUBLIC_ADDRESS, "192.168.0.1"], []],
)
def test_a_name_that_turns_private_after_registration_is_refused_at_delivery(prod_app, dns, connects, answer):
    shop = shop_of(prod_app)
    endpoint = subscribe(prod_app, shop, PUBLIC_URL)
    if answer:
        dns.answers[HOST] = answer
    else:
        del dns.answers[HOST]

    ordered_and_delivered(prod_app, shop, production=True)

    assert connects == []
    [attempt] = attempts(prod_app, shop, endpoint["id"])
    assert (attempt["outcome"], attempt["status_code"], attempt["error"]) == ("retry", None, REFUSED)
    assert attempt["next_attempt_at"] is not None


@pytest.mark.parametrize("url", NOT_PUBLIC_URLS)
def test_a_stored_url_of_any_non_public_spelling_is_refused_at_delivery(prod_app, dns, connects, url):
    # As an endpoint registered before this check, or while the setting allowed it.
    shop = shop_of(prod_app)
    endpoint = subscribe(prod_app, shop, PUBLIC_URL)
    with prod_app.app_context(), Session(db.engine) as s:
        s.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == int(endpoint["id"])).values(url=url))
        s.commit()

    ordered_and_delivered(prod_app, shop, production=True)

    assert connects == []
    [attempt] = attempts(prod_app, shop, endpoint["id"])
    assert (attempt["outcome"], attempt["error"]) == ("retry", REFUSED)


def test_a_refused_address_reads_the_same_whether_a_port_listens_there_or_not(prod_app, dns):
    shop = shop_of(prod_app)
    with Receiver() as listening:
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]
        closed.close()
        open_, shut = subscribe(prod_app, shop, PUBLIC_URL), subscribe(prod_app, shop, PUBLIC_URL)
        with prod_app.app_context(), Session(db.engine) as s:
            for endpoint, port in ((open_, listening.port), (shut, closed_port)):
                url = f"https://127.0.0.1:{port}/hooks"
                s.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == int(endpoint["id"])).values(url=url))
            s.commit()

        ordered_and_delivered(prod_app, shop, production=True)

        assert listening.received == []
    [to_open] = attempts(prod_app, shop, open_["id"])
    [to_shut] = attempts(prod_app, shop, shut["id"])
    assert to_open["error"] == to_shut["error"] == REFUSED


@pytest.mark.parametrize(
    "failure",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("timed out"),
        OSError(113, "No route to host"),
        ssl.SSLCertVerificationError("certificate verify failed: Hostname mismatch"),
    ],
)
def test_a_connection_that_fails_is_logged_as_connection_failed_whatever_the_reason(
    prod_app, dns, monkeypatch, failure
):
    def fail(addresses, port, timeout_s):
        raise failure

    monkeypatch.setattr(delivery, "open_connection", fail)
    shop = shop_of(prod_app)
    endpoint = subscribe(prod_app, shop, PUBLIC_URL)

    ordered_and_delivered(prod_app, shop, production=True)

    [attempt] = attempts(prod_app, shop, endpoint["id"])
    assert (attempt["outcome"], attempt["error"]) == ("retry", "connection failed")


def test_a_closed_port_on_loopback_is_connection_failed_without_the_socket_error(dev_app):
    shop = shop_of(dev_app)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{closed.getsockname()[1]}/hooks"
    closed.close()
    endpoint = subscribe(dev_app, shop, url)

    ordered_and_delivered(dev_app, shop, production=False)

    [attempt] = attempts(dev_app, shop, endpoint["id"])
    assert attempt["error"] == "connection failed"


@pytest.fixture(scope="module")
def authority(tmp_path_factory):
    """A certificate authority of this test and a server certificate for HOST: (server, client) TLS contexts."""
    now = utcnow()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook test authority")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )  # digital_signature, key_cert_sign, crl_sign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "leaf.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "leaf.pem", folder / "leaf.key")
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


@pytest.fixture
def tls_receiver(authority, monkeypatch):
    """An https receiver on loopback that the delivery reaches when it connects to the public address."""
    server, client = authority
    connected: list[tuple[list[str], int]] = []
    with Receiver(tls=server) as receiver:

        def to_receiver(addresses, port, timeout_s):
            connected.append((list(addresses), port))
            return socket.create_connection(("127.0.0.1", receiver.port), timeout=timeout_s)

        monkeypatch.setattr(delivery, "open_connection", to_receiver)
        monkeypatch.setattr(delivery, "tls_context", lambda: client)
        yield receiver, connected


def test_a_public_host_is_delivered_over_tls_to_the_address_that_was_checked(prod_app, dns, tls_receiver):
    receiver, connected = tls_receiver
    shop = shop_of(prod_app)
    endpoint = subscribe(prod_app, shop, PUBLIC_URL + "?source=loyalty")
    dns.asked.clear()

    ordered_and_delivered(prod_app, shop, production=True)

    assert dns.asked == [HOST]  # resolved once for this delivery, and connected to that answer
    assert connected == [([PUBLIC_ADDRESS], 443)]
    [got] = receiver.received
    assert got.headers["Host"] == HOST
    [attempt] = attempts(prod_app, shop, endpoint["id"])
    assert (attempt["outcome"], attempt["status_code"], attempt["error"]) == ("delivered", 200, None)


def test_a_certificate_for_another_name_is_not_trusted(prod_app, dns, tls_receiver):
    receiver, connected = tls_receiver
    shop = shop_of(prod_app)
    dns.answers["other.shop.example"] = [PUBLIC_ADDRESS]
    endpoint = subscribe(prod_app, shop, "https://other.shop.example/loyalty")

    ordered_and_delivered(prod_app, shop, production=True)

    assert connected == [([PUBLIC_ADDRESS], 443)]
    assert receiver.received == []
    [attempt] = attempts(prod_app, shop, endpoint["id"])
    assert (attempt["outcome"], attempt["error"]) == ("retry", "connection failed")


def test_a_name_is_connected_to_at_the_address_it_resolved_to_with_its_own_host_header(dev_app, dns):
    shop = shop_of(dev_app)
    dns.answers["receiver.shop.example"] = ["127.0.0.1"]
    with Receiver() as receiver:
        endpoint = subscribe(dev_app, shop, f"http://receiver.shop.example:{receiver.port}/hooks")

        ordered_and_delivered(dev_app, shop, production=False)

        [got] = receiver.received
    assert got.headers["Host"] == f"receiver.shop.example:{receiver.port}"
    [attempt] = attempts(dev_app, shop, endpoint["id"])
    assert attempt["outcome"] == "delivered"


def test_a_redirect_is_an_answer_and_is_not_followed(dev_app):
    shop = shop_of(dev_app)
    with Receiver() as elsewhere:

        def redirecting(environ, start_response):
            start_response("302 Found", [("Location", elsewhere.url), ("Content-Length", "0")])
            return [b""]

        with serve(redirecting) as url:
            endpoint = subscribe(dev_app, shop, url + "/hooks")

            ordered_and_delivered(dev_app, shop, production=False)

        assert elsewhere.received == []
    [attempt] = attempts(dev_app, shop, endpoint["id"])
    assert (attempt["outcome"], attempt["status_code"], attempt["error"]) == ("retry", 302, "HTTP 302")
