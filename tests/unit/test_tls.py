"""TLS trust: ``verify`` takes a CA bundle path; sync and async trust the same CAs; a bad certificate is permanent.

The vendor is a loopback HTTPS server with a self-signed certificate generated for the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_whatsapp_campaigns.exceptions import ValidationError
from airflow_provider_whatsapp_campaigns.hooks.base import get_hook
from tests.hostile import HostileServer, reply, self_signed, server_tls

MODES = ["sync", "async"]


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_server(cert: tuple[Path, Path]) -> Iterator[HostileServer]:
    with HostileServer(tls=server_tls(*cert)) as server:
        server.answer(reply(200, {"campaign_status": "running", "sent_count": 7}))
        yield server


@pytest.fixture
def vendor(https_server: HostileServer, monkeypatch: pytest.MonkeyPatch) -> HostileServer:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    https_server.reset()
    return https_server


def stats(airflow_conn, url: str, mode: str, **extra):
    conn_id = airflow_conn("tls_waplify", "waplify", host=url, password="wapl_tls_key",
                           extra={"rate_limit": 10_000, "max_retries": 0, **extra})
    hook = get_hook(conn_id)
    if mode == "sync":
        return hook.get_campaign_stats("42")
    return asyncio.run(hook.aget_campaign_stats("42"))


@pytest.mark.parametrize("mode", MODES)
def test_an_untrusted_certificate_fails_at_once_saying_how_to_fix_it(vendor, airflow_conn, mode):
    with pytest.raises(ValidationError) as info:
        stats(airflow_conn, vendor.url, mode, max_retries=3)
    message = info.value.message.lower()
    assert "certificate" in message
    assert "verif" in message
    assert "ca bundle" in message, "the message names the fix: verify = path of a CA bundle"
    assert vendor.connections == 1, "a certificate error is permanent: no retries"


@pytest.mark.parametrize("mode", MODES)
def test_verify_accepts_a_ca_bundle_path(vendor, airflow_conn, cert, mode):
    assert stats(airflow_conn, vendor.url, mode, verify=str(cert[0])).sent == 7


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_sync_and_async_honour_the_same_ca_environment(vendor, airflow_conn, cert, monkeypatch, variable, mode):
    monkeypatch.setenv(variable, str(cert[0]))
    assert stats(airflow_conn, vendor.url, mode).sent == 7


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("verify", [False, "false"])
def test_verify_false_skips_verification(vendor, airflow_conn, mode, verify):
    assert stats(airflow_conn, vendor.url, mode, verify=verify).sent == 7


@pytest.mark.parametrize("mode", MODES)
def test_a_missing_ca_bundle_is_a_validation_error_before_any_request(vendor, airflow_conn, tmp_path, mode):
    with pytest.raises(ValidationError) as info:
        stats(airflow_conn, vendor.url, mode, verify=str(tmp_path / "missing.pem"))
    assert "missing.pem" in info.value.message
    assert vendor.connections == 0


@pytest.mark.parametrize("mode", MODES)
def test_a_file_that_is_not_a_ca_bundle_is_a_validation_error(vendor, airflow_conn, tmp_path, mode):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ValidationError):
        stats(airflow_conn, vendor.url, mode, verify=str(junk))
    assert vendor.connections == 0
