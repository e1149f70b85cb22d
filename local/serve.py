"""`make serve`: the local stack as a long-running server that any HTTP client can drive."""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

from local.service import DEMO_TENANT, LocalSyncService


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--tenant", type=Path, default=Path(os.environ.get("ZUORA_TENANT", DEMO_TENANT)))
    args = parser.parse_args(argv)

    with LocalSyncService(args.tenant, host=args.host, port=args.port) as service:
        print(f"API base URL: {service.api_url}", flush=True)
        print(f"Zuora emulator: {service.emulator.base_url} (tenant {args.tenant})", flush=True)
        print(
            f"Try:\n  curl -s -X POST {service.api_url}/syncs -H 'Content-Type: application/json' "
            "-d '{\"zuoraAccountNumber\": \"A00001001\"}'\n"
            f"  curl -s {service.api_url}/syncs/<syncId>\nCtrl-C stops.",
            flush=True,
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("Stopping.")


if __name__ == "__main__":
    main()
