"""Our hooks vs the stock ``apache-airflow-providers-http`` hooks, same machine, same run, same server.

Both sides fetch the same Waplify stats endpoint from the bundled sandbox (started here as a
separate process so the client and server do not share a GIL):

* sync: ``WaplifyHook.get_campaign_stats`` (one pooled ``requests.Session`` per hook) vs
  ``HttpHook.run`` (a fresh session per call, as HttpHook does);
* async: N concurrent waits polling once each — our triggers share one aiohttp session per
  event loop and connection; ``HttpAsyncHook.run`` opens a session per call.

Prints calls/s and the ratio (ours / stock). Not a test: numbers depend on the machine. The
client-side rate limiter is switched off (``rate_limit: 0``) since the stock hooks have none.
Run: ``make bench`` or ``.venv/bin/python benchmarks/hook_vs_http.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


def self_signed(directory: str) -> tuple[str, str]:
    """A throwaway loopback certificate, so the TLS case costs what it costs against a real vendor."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return cert_path, key_path


def start_sandbox(tls: tuple[str, str] | None) -> tuple[subprocess.Popen[str], str]:
    extra = ["--tls-cert", tls[0], "--tls-key", tls[1]] if tls else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_whatsapp_campaigns.sandbox", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(r"listening on (https?://\S+)", line)
        if match:
            return proc, match.group(1)
    raise RuntimeError("sandbox did not start")


def timed(label: str, calls: int, fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - started
    rate = calls / elapsed
    print(f"  {label:<44} {calls:>6} calls in {elapsed:6.2f} s = {rate:8.0f} calls/s")
    return rate


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--calls", type=int, default=400, help="sequential sync calls per side")
    args.add_argument("--waits", type=int, default=300, help="concurrent async waits per side")
    opts = args.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        for tls in (None, self_signed(directory)):
            run(opts, tls)


def run(opts: argparse.Namespace, tls: tuple[str, str] | None) -> None:
    proc, root = start_sandbox(tls)
    scheme = "https" if tls else "http"
    try:
        from airflow_provider_whatsapp_campaigns.sandbox.client import SandboxAdmin

        admin = SandboxAdmin(root)
        admin.session.verify = False
        admin.session.trust_env = False
        admin.configure("waplify", rate_limit=1_000_000)
        [campaign_id] = admin.seed_waplify([{"name": "bench", "contacts": 100, "status": "completed"}])
        path = f"/waplify/api/v1/campaigns/{campaign_id}/stats"
        host, port = root.removeprefix(f"{scheme}://").split(":")
        os.environ["AIRFLOW_CONN_BENCH_WAPLIFY"] = json.dumps(
            {
                "conn_type": "waplify",
                "host": f"{root}/waplify",
                "password": "wapl_demo_key",
                "extra": {"rate_limit": 0, "max_retries": 0, "verify": not tls},
            }
        )
        os.environ["AIRFLOW_CONN_BENCH_HTTP"] = json.dumps(
            {
                "conn_type": "http",
                "host": host,
                "port": int(port),
                "schema": scheme,
                "extra": {"Authorization": "Bearer wapl_demo_key", "verify": not tls},
            }
        )

        from airflow.providers.http.hooks.http import HttpAsyncHook, HttpHook

        from airflow_provider_whatsapp_campaigns.hooks.base import get_hook

        print(f"\n=== {scheme.upper()} sandbox {root}; Waplify stats of one campaign\nsync, sequential:")
        ours = get_hook("bench_waplify")
        ours.get_campaign_stats(campaign_id)  # warm-up: connection lookup, pool
        stock = HttpHook(method="GET", http_conn_id="bench_http")
        options = {"verify": False} if tls else {}
        stock.run(path, extra_options=options)
        ours_rate = timed(
            "WaplifyHook.get_campaign_stats",
            opts.calls,
            lambda: [ours.get_campaign_stats(campaign_id) for _ in range(opts.calls)],
        )
        stock_rate = timed(
            "HttpHook.run (providers-http)",
            opts.calls,
            lambda: [stock.run(path, extra_options=options).json() for _ in range(opts.calls)],
        )
        print(f"  ratio ours/stock: {ours_rate / stock_rate:.2f}x")

        async def ours_async() -> None:
            hook = get_hook("bench_waplify")
            async with hook.async_session():
                await asyncio.gather(*(hook.aget_campaign_stats(campaign_id) for _ in range(opts.waits)))

        async def stock_async() -> None:
            hook = HttpAsyncHook(method="GET", http_conn_id="bench_http")

            async def one() -> None:
                import aiohttp

                async with aiohttp.ClientSession() as session:
                    response = await hook.run(session=session, endpoint=path)
                    await response.json()

            await asyncio.gather(*(one() for _ in range(opts.waits)))

        print("\nasync, concurrent waits polling once (what a triggerer does):")
        ours_a = timed("shared session (WhatsAppCampaignTrigger path)", opts.waits, lambda: asyncio.run(ours_async()))
        stock_a = timed("HttpAsyncHook, session per call", opts.waits, lambda: asyncio.run(stock_async()))
        print(f"  ratio ours/stock: {ours_a / stock_a:.2f}x")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
