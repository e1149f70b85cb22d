"""`make demo`: start everything locally and press LFS's Sync button for the demo customer.

Starts the Zuora emulator with the demo tenant, the SAM application on moto and the API on localhost,
then does what LFS does: POST /syncs, poll GET /syncs/{id} showing its status, and show the customer's
subscriptions as Limio now holds them together with the notification LFS would display.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from local.lfs_client import poll_until_done, start_sync
from local.logs import default_log_file, send_logs_to_file
from local.service import DEMO_TENANT, LocalSyncService


def demo_customer(tenant_path: Path) -> dict:
    tenant = json.loads(tenant_path.read_text())
    crm_ids = sorted({a["basicInfo"].get("crmId") for a in tenant["accounts"] if a["basicInfo"].get("crmId")})
    if crm_ids:
        return {"salesforceAccountId": crm_ids[0]}
    return {"zuoraAccountNumber": tenant["accounts"][0]["basicInfo"]["accountNumber"]}


def show_progress(job: dict, elapsed: float) -> None:
    if job["status"] == "RUNNING":
        doing = f"{job['settled']} of {job['total']} subscriptions settled" if job.get("total") else "finding the customer's subscriptions in Zuora"
    else:
        doing = f"synced {len(job['subscriptions'])} of {job['total']} subscriptions"
    print(f"  {elapsed:5.1f}s  {job['status']:<16} {doing}", flush=True)


def print_subscriptions(records: list[dict]) -> None:
    widths = (14, 10, 11, 11, 11, 10, 10, 3)
    header = ("Subscription", "Status", "Start", "Term start", "Term end", "Auto-renew", "Account", "Ver")
    print(" ".join(f"{name:<{width}}" for name, width in zip(header, widths, strict=True)))
    print("-" * (sum(widths) + len(widths) - 1))
    for r in records:
        row = (
            r["subscriptionNumber"],
            r["status"],
            r["subscriptionStartDate"],
            r["termStartDate"],
            r.get("termEndDate") or "(evergreen)",
            "yes" if r["autoRenew"] else "no",
            r["zuoraAccountNumber"],
            str(int(r["zuoraVersion"])),
        )
        print(" ".join(f"{value:<{width}}" for value, width in zip(row, widths, strict=True)))


def lfs_sync(service: LocalSyncService, customer: dict) -> dict:
    """Press Sync: start, poll with visible progress, show what LFS shows afterwards."""
    started = start_sync(service.api_url, customer, credentials=service.credentials)
    print(f"  202 Accepted: syncId={started['syncId']}  Location={started['location']}  Retry-After={started['retryAfter']}s")
    job = poll_until_done(started["statusUrl"], on_progress=show_progress, credentials=service.credentials)
    records = service.limio_subscriptions()
    print(f"\nLFS refreshes the list: the customer's subscriptions as Limio now holds them ({len(records)}):\n")
    print_subscriptions(records)
    print("\nPer-subscription outcome:")
    for receipt in job["subscriptions"]:
        detail = f"  {receipt['errorCode']}: {receipt['message']}" if receipt["outcome"] == "FAILED" else ""
        print(f"  {receipt['subscriptionNumber']:<14} {receipt['outcome']:<9}{detail}")
    print(f"\nStatus: {job['status']}   counts: {job['counts']}")
    print(f"LFS notification: {job['notification']}")
    return job


def renew_in_zuora(service: LocalSyncService) -> str:
    """A change made outside Limio: Zuora auto-renews the first active, auto-renewing, termed subscription."""
    records = service.limio_subscriptions()
    number = next(r["subscriptionNumber"] for r in records if r["status"] == "active" and r["autoRenew"] and r.get("termEndDate"))
    old_end = service.emulator.subscription(number)["termEndDate"]
    renewed = service.emulator.renew(number)  # as Zuora renews: the next term, a new version
    print(f"Zuora auto-renews {number}: term {old_end} → {renewed['termEndDate']} (a new Zuora version, made outside Limio)")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenant", type=Path, default=DEMO_TENANT, help="Zuora emulator tenant file")
    parser.add_argument("--log-file", type=Path, help="where the functions' structured logs go (default: a new file under .logs/)")
    parser.add_argument("--verbose", action="store_true", help="also show the structured logs (on stderr)")
    args = parser.parse_args(argv)

    customer = demo_customer(args.tenant)
    log_file = send_logs_to_file(args.log_file or default_log_file("demo"), verbose=args.verbose)
    print("Starting the local stack (Zuora emulator, Step Functions and Lambda on moto, API on localhost)...")
    print(f"The functions' structured logs (JSON, as in CloudWatch) go to {log_file}{'' if args.verbose else '; --verbose shows them too'}")
    # INFO: the file shows what each function did (a task's outcomes, a failed subscription's reason).
    with LocalSyncService(args.tenant, parameter_overrides={"LogLevel": "INFO"}) as service:
        print(f"API: {service.api_url}   Zuora emulator: {service.emulator.base_url}\n")
        print(f"== 1. LFS: Sync clicked for {customer}")
        first = lfs_sync(service, customer)

        print("\n== 2. Meanwhile, in Zuora")
        renewed = renew_in_zuora(service)

        print(f"\n== 3. LFS: Sync clicked again for {customer}")
        second = lfs_sync(service, customer)
        outcome = {r["subscriptionNumber"]: r["outcome"] for r in second["subscriptions"]}[renewed]
        print(f"\nThe Zuora renewal of {renewed} reached Limio: outcome {outcome}.")
    healthy = first["status"] != "RUNNING" and outcome == "UPDATED"
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
