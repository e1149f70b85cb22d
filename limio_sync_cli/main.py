"""`limio-sync`: start, watch and inspect a customer's syncs, and replay dead-lettered failures.

Where the API is: `--api-url` (or LIMIO_SYNC_API_URL), e.g. what `make serve` prints, or `--stack` (or
LIMIO_SYNC_STACK), a deployed stack whose `ApiBaseUrl` and `RetryFailedSyncsFunctionName` outputs are read from
CloudFormation. Every call is signed with AWS Signature Version 4 using the standard AWS credential chain
(environment, profile, SSO, instance role...) through botocore. `--json` prints the API's JSON for scripts.

Exit codes: 0 done (a sync SUCCEEDED), 1 the sync failed or partially failed, 2 usage or request error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import botocore.session
import requests

from limio_sync_cli.signing import SigV4RequestsAuth

TERMINAL = {"SUCCEEDED", "PARTIALLY_FAILED", "FAILED"}
API_URL_ENV, STACK_ENV, RETRY_FUNCTION_ENV = "LIMIO_SYNC_API_URL", "LIMIO_SYNC_STACK", "LIMIO_SYNC_RETRY_FUNCTION"
RETRY_FUNCTION_OUTPUT = "RetryFailedSyncsFunctionName"
BAR_WIDTH = 30


class CliError(Exception):
    """A problem the operator can fix; printed without a traceback."""


@dataclass
class Target:
    """The API (and the retry function) of one stack, and how to sign for them."""

    api_url: str | None
    session: botocore.session.Session
    region: str
    retry_function: str | None = None

    def auth(self) -> SigV4RequestsAuth:
        credentials = self.session.get_credentials()
        if credentials is None:
            raise CliError("No AWS credentials found (environment, ~/.aws/credentials, SSO or an instance role); `aws configure` sets some.")
        return SigV4RequestsAuth(credentials.get_frozen_credentials(), self.region)

    def call(self, method: str, path: str, **kwargs: Any) -> dict:
        if not self.api_url:
            raise CliError(f"Say where the API is: --api-url (or {API_URL_ENV}) or --stack (or {STACK_ENV}).")
        reply = requests.request(method, f"{self.api_url}{path}", auth=self.auth(), timeout=30, **kwargs)
        try:
            body = reply.json()
        except ValueError:
            body = {}
        if reply.status_code >= 400:
            error = body.get("error") or {}
            message = error.get("message") or body.get("message") or reply.text
            raise CliError(f"{method} {path}: {reply.status_code} {error.get('code', '')} {message}")
        return body


def resolve_target(args: argparse.Namespace) -> Target:
    session = botocore.session.Session(profile=args.profile) if args.profile else botocore.session.Session()
    region = args.region or session.get_config_variable("region") or "eu-west-2"
    api_url, stack = args.api_url or os.environ.get(API_URL_ENV), args.stack or os.environ.get(STACK_ENV)
    retry_function = getattr(args, "function_name", None) or os.environ.get(RETRY_FUNCTION_ENV)
    if stack and not api_url:
        outputs = _stack_outputs(session, region, stack)
        if "ApiBaseUrl" not in outputs:
            raise CliError(f"Stack {stack} has no ApiBaseUrl output; is it this application's stack?")
        api_url = outputs["ApiBaseUrl"]
        retry_function = retry_function or outputs.get(RETRY_FUNCTION_OUTPUT)
    return Target(api_url=api_url.rstrip("/") if api_url else None, session=session, region=region, retry_function=retry_function)


def _stack_outputs(session: botocore.session.Session, region: str, stack: str) -> dict[str, str]:
    cloudformation = session.create_client("cloudformation", region_name=region)
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except cloudformation.exceptions.ClientError as error:
        raise CliError(f"Cannot read stack {stack} in {region}: {error}") from None
    return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}


def _customer(args: argparse.Namespace) -> dict[str, str]:
    if args.salesforce_account_id:
        return {"salesforceAccountId": args.salesforce_account_id}
    return {"zuoraAccountNumber": args.zuora_account_number}


# ---------------------------------------------------------------- commands


def start(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    body = {**_customer(args), **({"requestedBy": args.requested_by} if args.requested_by else {})}
    started = target.call("POST", "/syncs", json=body)
    if args.no_wait:
        _print(out, args, started, f"Started {started['syncId']}; follow it with: limio-sync status {started['syncId']}")
        return 0
    if not args.json:
        print(f"Started {started['syncId']}", file=out, flush=True)
    show = (lambda job: None) if args.json else ProgressBar(out)
    job = wait(target, started["syncId"], interval=args.interval, timeout=args.timeout, on_poll=show)
    _print(out, args, job, _job_lines(job))
    return _exit_code(job)


def status(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    job = target.call("GET", f"/syncs/{args.sync_id}")
    _print(out, args, job, _job_lines(job))
    return 0 if job["status"] == "RUNNING" else _exit_code(job)


def history(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    syncs: list[dict] = []
    params: dict[str, Any] = {**_customer(args), "limit": min(args.limit, 100)}
    while len(syncs) < args.limit:
        page = target.call("GET", "/syncs", params=params)
        syncs.extend(page["syncs"])
        if not page.get("nextToken"):
            break
        params["nextToken"] = page["nextToken"]
    syncs = syncs[: args.limit]
    lines = [f"{'Sync':<38} {'Status':<17} {'Started':<25} {'Settled':>9}  Counts"]
    for sync in syncs:
        counts = " ".join(f"{k}={v}" for k, v in sync["counts"].items() if v) or "-"
        lines.append(f"{sync['syncId']:<38} {sync['status']:<17} {sync['startedAt']:<25} {sync['settled']:>4}/{sync['total']:<4}  {counts}")
    _print(out, args, {"syncs": syncs}, "\n".join(lines) if syncs else "No syncs for this customer in the last 90 days.")
    return 0


def failures(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    """The failed subscriptions of the customer's latest sync (or of --sync-id)."""
    sync_id = args.sync_id
    if not sync_id:
        latest = target.call("GET", "/syncs", params={**_customer(args), "limit": 1})["syncs"]
        if not latest:
            raise CliError("This customer has no sync in the last 90 days.")
        sync_id = latest[0]["syncId"]
    job = target.call("GET", f"/syncs/{sync_id}")
    failed = [receipt for receipt in job["subscriptions"] if receipt["outcome"] == "FAILED"]
    lines = [f"Sync {sync_id} ({job['status']}): {len(failed)} failed of {job['total']}"]
    if job.get("error"):
        lines.append(f"  the job itself failed: {job['error']['errorCode']}: {job['error']['message']}")
    for receipt in failed:
        retry = "retried automatically" if receipt.get("retryable") else "not retryable"
        lines.append(f"  {receipt['subscriptionNumber']:<16} {receipt['errorCode']:<22} {retry}: {receipt['message']}")
    _print(out, args, {"syncId": sync_id, "status": job["status"], "error": job.get("error"), "failed": failed}, "\n".join(lines))
    return 1 if failed or job.get("error") else 0


def replay_dead_letters(target: Target, args: argparse.Namespace, out: TextIO) -> int:
    if not target.retry_function:
        raise CliError(f"Name the retry function: --function-name, or --stack to read its {RETRY_FUNCTION_OUTPUT} output.")
    # AWS_ENDPOINT_URL_LAMBDA (botocore's per-service endpoint setting) points this at `make serve`'s local Lambda.
    lambda_client = target.session.create_client("lambda", region_name=target.region)
    reply = lambda_client.invoke(FunctionName=target.retry_function, Payload=json.dumps({"replayDeadLetters": True}).encode())
    result = json.loads(reply["Payload"].read() or b"null")
    if reply.get("FunctionError"):
        raise CliError(f"{target.retry_function} failed: {result}")
    replayed = result["replayed"]
    _print(out, args, result, f"{replayed} dead-lettered failure(s) put back in the retry queue; the next scheduled run re-syncs them.")
    return 0


# ---------------------------------------------------------------- waiting and showing


def wait(
    target: Target, sync_id: str, *, interval: float, timeout: float, on_poll: Callable[[dict], None], clock=time.monotonic, sleep=time.sleep
) -> dict:
    deadline = clock() + timeout
    while True:
        job = target.call("GET", f"/syncs/{sync_id}")
        on_poll(job)
        if job["status"] in TERMINAL:
            return job
        if clock() > deadline:
            raise CliError(f"Sync {sync_id} is still {job['status']} after {timeout:.0f}s; follow it with: limio-sync status {sync_id}")
        sleep(interval)


class ProgressBar:
    """`[#####.....]  12/40 settled` redrawn in place on a terminal; a line per change otherwise (logs, CI)."""

    def __init__(self, out: TextIO):
        self.out, self.last = out, None
        self.tty = out.isatty()

    def __call__(self, job: dict) -> None:
        total, settled = job.get("total") or 0, job.get("settled") or 0
        if job["status"] == "RUNNING" and not total:
            line = "finding the customer's subscriptions in Zuora..."
        else:
            filled = BAR_WIDTH * settled // total if total else BAR_WIDTH
            line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {settled:>5}/{total} settled  {job['status']}"
        if line == self.last:
            return
        self.last = line
        if self.tty:
            end = "\n" if job["status"] in TERMINAL else ""
            self.out.write(f"\r{line}{end}")
        else:
            self.out.write(f"{line}\n")
        self.out.flush()


def _job_lines(job: dict) -> str:
    lines = [f"Sync {job['syncId']}: {job['status']}  ({job.get('settled', 0)}/{job['total']} settled)"]
    if job.get("counts"):
        lines.append("  " + "  ".join(f"{k} {v}" for k, v in job["counts"].items()))
    if job.get("notification"):
        lines.append(f"  {job['notification']}")
    return "\n".join(lines)


def _exit_code(job: dict) -> int:
    return 0 if job["status"] == "SUCCEEDED" else 1


def _print(out: TextIO, args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text, file=out, flush=True)


# ---------------------------------------------------------------- the command line


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="limio-sync", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--api-url", help=f"the API base URL, e.g. http://127.0.0.1:3000/v1 (env {API_URL_ENV})")
    common.add_argument("--stack", help=f"a deployed stack's name: its outputs say where the API is (env {STACK_ENV})")
    common.add_argument("--region", help="AWS region (default: the AWS configuration's, else eu-west-2)")
    common.add_argument("--profile", help="AWS profile to sign with (default: the standard credential chain)")
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    customer = argparse.ArgumentParser(add_help=False)
    key = customer.add_mutually_exclusive_group(required=True)
    key.add_argument("--salesforce-account-id", help="the customer's Salesforce Account id (15 or 18 characters)")
    key.add_argument("--zuora-account-number", help="one Zuora account number")

    commands = root.add_subparsers(dest="command", required=True)
    run = commands.add_parser("start", parents=[common, customer], help="start a customer's sync and wait for it with a progress bar")
    run.add_argument("--requested-by", help="who asked, for the audit trail")
    run.add_argument("--no-wait", action="store_true", help="return once the sync has started")
    run.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    run.add_argument("--timeout", type=float, default=900.0, help="give up waiting after this many seconds (default 900)")
    run.set_defaults(run=start)
    show = commands.add_parser("status", parents=[common], help="a sync's status, counts and notification")
    show.add_argument("sync_id")
    show.set_defaults(run=status)
    past = commands.add_parser("history", parents=[common, customer], help="a customer's recent syncs, newest first")
    past.add_argument("--limit", type=int, default=20, help="how many syncs (default 20)")
    past.set_defaults(run=history)
    failed = commands.add_parser("failures", parents=[common, customer], help="the failed subscriptions of a customer's latest sync")
    failed.add_argument("--sync-id", help="another sync of the customer than the latest")
    failed.set_defaults(run=failures)
    replay = commands.add_parser("replay-dead-letters", parents=[common], help="put every dead-lettered failure back in the retry queue")
    replay.add_argument("--function-name", help=f"the retry function (env {RETRY_FUNCTION_ENV}; default: the stack's {RETRY_FUNCTION_OUTPUT} output)")
    replay.set_defaults(run=replay_dead_letters)
    return root


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(resolve_target(args), args, out)
    except CliError as error:
        print(f"limio-sync: {error}", file=sys.stderr)
        return 2
    except requests.RequestException as error:
        print(f"limio-sync: cannot reach the API: {error}", file=sys.stderr)
        return 2
