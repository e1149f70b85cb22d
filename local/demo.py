"""`make demo`: start everything locally and press LFS's Sync button for the demo customer.

Starts the Zuora emulator with the demo tenant, the SAM application on moto and the API on localhost,
then does what LFS does: POST /syncs, poll GET /syncs/{id} with visible progress, and show the customer's
subscriptions as Limio now holds them together with the notification LFS would display.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from local.lfs_client import poll_until_done, start_sync
from local.service import DEMO_TENANT, LocalSyncService


def demo_customer(tenant_path: Path) -> dict:
    tenant = json.loads(tenant_path.read_text())
    crm_ids = sorted({a["basicInfo"].get("crmId") for a in tenant["accounts"] if a["basicInfo"].get("crmId")})
    if crm_ids:
        return {"salesforceAccountId": crm_ids[0]}
    return {"zuoraAccountNumber": tenant["accounts"][0]["basicInfo"]["accountNumber"]}


def show_progress(job: dict, elapsed: float) -> None:
    total = job.get("total") or "?"
    print(f"  {elapsed:5.1f}s  {job['status']:<16} subscriptions planned: {total}", flush=True)


def print_subscriptions(records: list[dict]) -> None:
    header = f"{'Subscription':<14} {'Status':<10} {'Start':<11} {'Term start':<11} {'Term end':<11} {'Auto-renew':<10} {'Zuora account':<13} {'Ver':>3}"
    print(header)
    print("-" * len(header))
    for r in records:
        print(
            f"{r['subscriptionNumber']:<14} {r['status']:<10} {r['subscriptionStartDate']:<11} {r['termStartDate']:<11} "
            f"{r.get('termEndDate') or '(evergreen)':<11} {'yes' if r['autoRenew'] else 'no':<10} {r['zuoraAccountNumber']:<13} {int(r['zuoraVersion']):>3}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenant", type=Path, default=DEMO_TENANT, help="Zuora emulator tenant file")
    args = parser.parse_args(argv)

    customer = demo_customer(args.tenant)
    print("Starting the local stack (Zuora emulator, Step Functions and Lambda on moto, API on localhost)...")
    with LocalSyncService(args.tenant) as service:
        print(f"API: {service.api_url}   Zuora emulator: {service.emulator.base_url}\n")
        print(f"LFS: Sync clicked for {customer}")
        started = start_sync(service.api_url, customer)
        print(f"  202 Accepted: syncId={started['syncId']}  Location={started['location']}  Retry-After={started['retryAfter']}s")
        job = poll_until_done(started["statusUrl"], on_progress=show_progress)

        print(f"\nLFS refreshes the list: the customer's subscriptions as Limio now holds them ({len(service.limio_subscriptions())}):\n")
        print_subscriptions(service.limio_subscriptions())
        print("\nPer-subscription outcome:")
        for receipt in job["subscriptions"]:
            detail = f"  {receipt['errorCode']}: {receipt['message']}" if receipt["outcome"] == "FAILED" else ""
            print(f"  {receipt['subscriptionNumber']:<14} {receipt['outcome']:<9}{detail}")
        print(f"\nStatus: {job['status']}   counts: {job['counts']}")
        print(f"LFS notification: {job['notification']}")
        if job.get("failedSubscriptions"):
            print(f"Failed subscriptions: {', '.join(job['failedSubscriptions'])}")
    return 0 if job["status"] in {"SUCCEEDED", "PARTIALLY_FAILED"} else 1


if __name__ == "__main__":
    sys.exit(main())
