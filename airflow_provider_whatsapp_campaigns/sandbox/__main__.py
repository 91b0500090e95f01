"""CLI: ``python -m airflow_provider_whatsapp_campaigns.sandbox --port 8765``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import sys
from collections.abc import Sequence

from aiohttp import web

from airflow_provider_whatsapp_campaigns.sandbox.connections import BASE_PATHS, airflow_connections
from airflow_provider_whatsapp_campaigns.sandbox.server import SANDBOX_KEY, create_app
from airflow_provider_whatsapp_campaigns.sandbox.state import DEMO

EPILOG = "SANDBOX-ONLY demo credentials (not real secrets; valid after every reset):\n" + "\n".join(
    f"  {vendor}: " + ", ".join(f"{k}={v}" for k, v in creds.items()) for vendor, creds in DEMO.items()
) + "\n\nAdmin API: /__sandbox__/{health,reset,config,faults,advance,clock,seed/<vendor>,state/<vendor>/<id>,counters}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m airflow_provider_whatsapp_campaigns.sandbox",
        description="Local fake of the SPRL, Insider One (v1 + OAuth), Whatomate and Waplify WhatsApp "
        "campaign APIs, for demos and tests. Prints base URLs and AIRFLOW_CONN_* export lines.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default: 8765; 0 picks a free port)")
    p.add_argument("--seed", type=int, default=0, help="seed for deterministic ids and data (default: 0)")
    p.add_argument("--state-file", default=None,
                   help="JSON file to keep state across restarts (written atomically; default: memory only)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="sandbox clock speed factor for campaign progress (default: 1.0)")
    p.add_argument("--tls-cert", default=None, help="PEM certificate: serve HTTPS instead of HTTP (benchmarks)")
    p.add_argument("--tls-key", default=None, help="PEM private key for --tls-cert")
    return p


async def _serve(args: argparse.Namespace) -> None:
    app = create_app(seed=args.seed, state_file=args.state_file)
    app[SANDBOX_KEY].configure({"speed": args.speed})
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    ssl_context = None
    if args.tls_cert:
        import ssl

        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(args.tls_cert, args.tls_key)
    site = web.TCPSite(runner, args.host, args.port, ssl_context=ssl_context)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    port = sockets[0].getsockname()[1] if sockets else args.port
    root = f"{'https' if ssl_context else 'http'}://{args.host}:{port}"
    print(f"WhatsApp campaigns sandbox listening on {root}")
    for vendor, path in BASE_PATHS.items():
        print(f"  {vendor:<14} {root}{path}")
    print("\n# Airflow connections (sandbox-only demo credentials):")
    for name, value in airflow_connections(root).items():
        print(f"export {name}={shlex.quote(value)}")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
