"""`python -m local.zuora_emulator --tenant PATH --port 8081`: serve a tenant until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from local.zuora_emulator import DEMO_TENANT_PATH, TenantError, ZuoraEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.zuora_emulator", description="Serve a Zuora emulator tenant until Ctrl-C or SIGTERM; prints the base URL."
    )
    parser.add_argument("--tenant", default=str(DEMO_TENANT_PATH), help="tenant JSON file (default: the demo tenant)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port (default: 8081; 0 picks a free one)")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s")
    try:
        emulator = ZuoraEmulator(args.tenant)
    except TenantError as exc:
        parser.exit(2, f"{exc}\n")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    base_url = emulator.start(host=args.host, port=args.port)
    print(base_url, flush=True)
    logging.getLogger("local.zuora_emulator").info("Tenant %s, client id %s; Ctrl-C stops it", args.tenant, emulator.client_id)
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
