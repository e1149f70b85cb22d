"""Pure rules for the job record: turning Map outputs into receipts, and receipts into a status and the
notification LFS shows."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from limio_sync.errors import ErrorCode
from limio_sync.models import JobFailure, JobStatus, Outcome, SubscriptionResult

MAX_MESSAGE_LENGTH = 300
_LAMBDA_ERROR_CODES = {
    "States.Timeout": (ErrorCode.INTERNAL_ERROR, True, "The sync of subscription {n} timed out"),
    "States.TaskFailed": (ErrorCode.INTERNAL_ERROR, True, "The sync of subscription {n} could not run"),
}


class AccountFailure(BaseModel):
    """A Zuora account of the customer that planning could not read: the job names it and says why."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    accountNumber: str
    errorCode: ErrorCode
    message: str
    retryable: bool = False


def _short(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE_LENGTH else message[: MAX_MESSAGE_LENGTH - 1] + "…"


def _split_coded_message(message: str) -> tuple[ErrorCode | None, str]:
    """Transient errors leave the sync Lambda as 'CODE: message' so the code survives the state machine."""
    code, sep, rest = message.partition(": ")
    if sep and code in ErrorCode.__members__:
        return ErrorCode(code), rest
    return None, message


def result_from_caught_error(subscription_number: str, caught: dict) -> SubscriptionResult:
    """A FAILED receipt from what the Map's Catch captured ({"Error", "Cause"}) after retries ran out."""
    error_name = str(caught.get("Error") or "")
    cause_text = str(caught.get("Cause") or "")
    try:
        cause = json.loads(cause_text)
    except ValueError:
        cause = {}
    error_message = cause.get("errorMessage", "") if isinstance(cause, dict) else ""
    if error_name == "TransientSyncError":
        code, message = _split_coded_message(error_message)
        return SubscriptionResult(
            subscriptionNumber=subscription_number,
            outcome=Outcome.FAILED,
            errorCode=code or ErrorCode.INTERNAL_ERROR,
            message=_short(f"Subscription {subscription_number} could not be synced after retries: {message}"),
            retryable=True,
        )
    code, retryable, template = _LAMBDA_ERROR_CODES.get(
        error_name, (ErrorCode.INTERNAL_ERROR, error_name.startswith("Lambda."), "The sync of subscription {n} failed")
    )
    return SubscriptionResult(
        subscriptionNumber=subscription_number,
        outcome=Outcome.FAILED,
        errorCode=code,
        message=_short(f"{template.format(n=subscription_number)} ({error_name or 'unknown error'})"),
        retryable=retryable,
    )


def receipt_from_item(subscription_number: str, item: dict) -> SubscriptionResult:
    """A stored receipt as the API reports it."""
    fields = {k: v for k, v in item.items() if k in SubscriptionResult.model_fields}
    return SubscriptionResult.model_validate({**fields, "subscriptionNumber": subscription_number})


def unchanged_items(summary: dict) -> dict[str, dict]:
    """The receipts a task's one summary item holds for its UNCHANGED subscriptions (see
    `JobStore.record_receipts`), as receipt items."""
    recorded_at = summary.get("recordedAt")
    return {
        number: {**fields, "subscriptionNumber": number, "outcome": Outcome.UNCHANGED.value, "recordedAt": recorded_at}
        for number, fields in (summary.get("unchanged") or {}).items()
    }


def latest_receipts(receipt_items: Iterable[dict], unchanged_summaries: Iterable[dict]) -> dict[str, dict]:
    """Each subscription's latest receipt, by number: its own receipt item or its line in a task's summary of
    UNCHANGED subscriptions, whichever was recorded last (a retry that found a failed subscription unchanged)."""
    latest: dict[str, dict] = {}
    candidates = [*receipt_items, *(item for summary in unchanged_summaries for item in unchanged_items(summary).values())]
    for item in candidates:
        number = item["subscriptionNumber"]
        held = latest.get(number)
        if held is None or str(item.get("recordedAt") or "") > str(held.get("recordedAt") or ""):
            latest[number] = item
    return latest


def reconcile(
    planned: Iterable[tuple[str, list[str]]], receipts: dict[str, dict], failed_batches: dict[str, dict]
) -> tuple[list[SubscriptionResult], list[SubscriptionResult]]:
    """Exactly one receipt per planned subscription: the one its task stored; for a task whose retries ran out
    before it recorded one, a FAILED receipt from what the Map's Catch captured; if nothing was recorded at
    all, a FAILED one saying so. `planned` is (task, its subscriptions); `failed_batches` the raw failures the
    Catch recorded, by task. Returns every receipt and those that must be written."""
    results, rewrites = [], []
    for batch_id, numbers in planned:
        caught = failed_batches.get(batch_id)
        for number in numbers:
            item = receipts.get(number)
            if item is not None:
                results.append(receipt_from_item(number, item))
                continue
            if caught is not None:
                failed = result_from_caught_error(number, _caught_error(caught))
            else:
                failed = SubscriptionResult(
                    subscriptionNumber=number,
                    outcome=Outcome.FAILED,
                    errorCode=ErrorCode.INTERNAL_ERROR,
                    message=f"No result was recorded for subscription {number}; it will be retried.",
                    retryable=True,
                )
            results.append(failed)
            rewrites.append(failed)
    return results, rewrites


def _caught_error(item: dict) -> dict:
    caught = item.get("caughtError") or {}
    return json.loads(caught) if isinstance(caught, str) else caught


def _names(numbers: list[str]) -> str:
    return ", ".join(numbers)


def summarize(results: list[SubscriptionResult], account_failures: Sequence[AccountFailure] = ()) -> tuple[JobStatus, dict[str, int], list[str], str]:
    """Status, counts per outcome, the failed subscriptions' names, and the sentence LFS shows. A Zuora account
    that could not be read keeps the job from SUCCEEDED and is named in the sentence; the job is FAILED only
    when nothing was synced."""
    counts = Counter(r.outcome.value for r in results)
    full_counts = {outcome.value: counts.get(outcome.value, 0) for outcome in Outcome}
    failed = sorted(r.subscriptionNumber for r in results if r.failed)
    total = len(results)
    unread = f" {unreadable_accounts(account_failures)}" if account_failures else ""
    if total == 0:
        if account_failures:
            return JobStatus.FAILED, full_counts, [], f"No subscription could be synced.{unread}"
        return JobStatus.SUCCEEDED, full_counts, [], "No subscriptions found for this customer in Zuora; nothing to sync."
    if not failed and not account_failures:
        changed = full_counts["CREATED"] + full_counts["UPDATED"]
        plural = "subscription is" if total == 1 else "subscriptions are"
        return (
            JobStatus.SUCCEEDED,
            full_counts,
            [],
            f"All {total} {plural} in sync with Zuora ({changed} updated from Zuora, {full_counts['UNCHANGED']} already up to date).",
        )
    if len(failed) == total:
        return JobStatus.FAILED, full_counts, failed, f"No subscription could be synced. Failed: {_names(failed)}.{unread}"
    synced = total - len(failed)
    failures = f" {len(failed)} failed: {_names(failed)}." if failed else ""
    return (
        JobStatus.PARTIALLY_FAILED,
        full_counts,
        failed,
        f"{synced} of {total} subscriptions synced.{failures}{unread}",
    )


def unreadable_accounts(account_failures: Iterable[AccountFailure]) -> str:
    """The sentence naming each Zuora account planning could not read, and why."""
    return " ".join(f"Zuora account {f.accountNumber} could not be read: {f.message}" for f in account_failures)


def account_failures_error(account_failures: list[AccountFailure]) -> JobFailure | None:
    """The job's `error` when some of the customer's Zuora accounts could not be read (whatever its status)."""
    if not account_failures:
        return None
    return JobFailure(errorCode=account_failures[0].errorCode, message=_short(unreadable_accounts(account_failures)))


def job_failure_notification(failure: JobFailure) -> str:
    return f"Sync failed: {failure.message}"


def failure_from_caught_error(stage: str, caught: dict) -> JobFailure:
    """Why planning or gathering failed, from a state machine Catch ({"Error", "Cause"})."""
    error_name = str(caught.get("Error") or "")
    try:
        cause = json.loads(str(caught.get("Cause") or ""))
    except ValueError:
        cause = {}
    message = cause.get("errorMessage", "") if isinstance(cause, dict) else ""
    code, text = _split_coded_message(message)
    if code is not None:
        return JobFailure(errorCode=code, message=_short(text))
    default = ErrorCode.PLANNING_FAILED if stage == "plan" else ErrorCode.GATHERING_FAILED
    what = "find the customer's subscriptions" if stage == "plan" else "record the results"
    return JobFailure(errorCode=default, message=_short(f"could not {what} ({error_name or 'unknown error'})."))


_EXECUTION_ENDINGS = {"FAILED": "failed", "TIMED_OUT": "timed out", "ABORTED": "was stopped"}


def failure_from_execution_event(detail: dict) -> JobFailure:
    """Why the job failed, from EventBridge's "Step Functions Execution Status Change" detail."""
    ending = _EXECUTION_ENDINGS.get(str(detail.get("status")), "ended unexpectedly")
    error = detail.get("error")
    reason = f" ({error})" if error else ""
    return JobFailure(errorCode=ErrorCode.EXECUTION_FAILED, message=_short(f"the sync execution {ending}{reason}; try the sync again."))
