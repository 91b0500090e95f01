"""Stats-call throughput of the sandbox (requests/s) on this machine.

Starts the sandbox CLI as a subprocess on a free loopback port, lifts the rate limits via the
admin API, then hammers Waplify stats and Insider v1 campaign stats with a bounded number of
requests at bounded concurrency. Prints requests/s and whether it clears 2,000 rps.

    .venv/bin/python benchmarks/sandbox_throughput.py [--requests 6000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time

import aiohttp
import requests

TARGET_RPS = 2000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "airflow_provider_whatsapp_campaigns.sandbox", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/__sandbox__/health", timeout=1)
            return proc
        except requests.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("sandbox did not start")


async def hammer(method: str, url: str, headers: dict[str, str], body: dict[str, object] | None,
                 total: int, concurrency: int) -> tuple[float, int]:
    """Send ``total`` requests with ``concurrency`` workers; return (seconds, non-200 count)."""
    errors = 0
    remaining = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors, remaining
        while remaining > 0:
            remaining -= 1
            async with session.request(method, url, headers=headers, json=body) as resp:
                await resp.read()
                errors += resp.status != 200

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        remaining = min(total, 200)
        await asyncio.gather(*(worker(session) for _ in range(10)))  # warm-up connections
        remaining = total
        errors = 0
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return time.perf_counter() - t0, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=6000, help="requests per endpoint (default 6000)")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent client requests (default 64)")
    args = parser.parse_args()
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    proc = start_sandbox(port)
    try:
        admin = f"{root}/__sandbox__"
        requests.post(f"{admin}/config", json={"waplify_rate_limit": None, "insider_rate_limit": None}, timeout=5)
        cid = requests.post(f"{admin}/seed/waplify", json={"campaigns": [{"name": "bench", "contacts": 1000,
                                                                          "status": "running"}]},
                            timeout=5).json()["campaign_ids"][0]
        cases = [
            ("waplify stats", "GET", f"{root}/waplify/api/v1/campaigns/{cid}/stats",
             {"Authorization": "Bearer wapl_demo_key"}, None),
            ("insider v1 campaign stats", "POST", f"{root}/insider/v1/statistics/campaign",
             {"x-ins-auth-key": "INS.demo-api-key"}, {"campaign_id": 1001}),
        ]
        total_req, total_s = 0, 0.0
        for name, method, url, headers, body in cases:
            secs, errors = asyncio.run(hammer(method, url, headers, body, args.requests, args.concurrency))
            rps = args.requests / secs
            total_req, total_s = total_req + args.requests, total_s + secs
            print(f"{name:<28} {args.requests} requests in {secs:.2f}s = {rps:,.0f} req/s (non-200: {errors})")
        served = requests.get(f"{admin}/counters", timeout=5).json()["requests"]
        print("served by the sandbox:", {v: sum(c.values()) for v, c in served.items()})
        overall = total_req / total_s
        verdict = "clears" if overall >= TARGET_RPS else "does NOT clear"
        print(f"{'overall':<28} {overall:,.0f} req/s at concurrency {args.concurrency}: {verdict} {TARGET_RPS:,} rps")
        return 0
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    raise SystemExit(main())
