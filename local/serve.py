"""`make serve`: the local stack as a long-running server that any HTTP client can drive."""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

from local.auth import ACCESS_KEY_ENV, SECRET_KEY_ENV, SERVICE
from local.service import DEMO_TENANT, LocalSyncService


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--tenant", type=Path, default=Path(os.environ.get("ZUORA_TENANT", DEMO_TENANT)))
    parser.add_argument("--no-signature", action="store_true", help="accept unsigned requests (API Gateway with AWS_IAM never does)")
    args = parser.parse_args(argv)

    service = LocalSyncService(args.tenant, host=args.host, port=args.port, require_signature=not args.no_signature, run_schedules=True)
    with service:
        print(f"API base URL: {service.api_url}", flush=True)
        print(f"Zuora emulator: {service.emulator.base_url} (tenant {args.tenant})", flush=True)
        print(_how_to_call(service), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("Stopping.")


def _how_to_call(service: LocalSyncService) -> str:
    if service.require_signature:
        credentials = service.credentials
        how = (
            "Requests must be signed with AWS Signature Version 4, as API Gateway (AWS_IAM) requires:\n"
            f"  access key id {credentials.access_key_id}, secret access key {credentials.secret_access_key}, "
            f"region {credentials.region}, service {SERVICE}\n"
            f"  (set {ACCESS_KEY_ENV} and {SECRET_KEY_ENV} to choose them; --no-signature turns the check off)\n"
        )
        curl = f'curl -s --aws-sigv4 "aws:amz:{credentials.region}:{SERVICE}" --user "{credentials.access_key_id}:{credentials.secret_access_key}"'
    else:
        how, curl = "Requests need no signature (--no-signature).\n", "curl -s"
    body = '\'{"zuoraAccountNumber": "A00001001"}\''
    return (
        f"{how}Try:\n  {curl} -X POST {service.api_url}/syncs -H 'Content-Type: application/json' -d {body}\n"
        f"  {curl} {service.api_url}/syncs/<syncId>\nCtrl-C stops."
    )


if __name__ == "__main__":
    main()
