"""GET /syncs: a customer's history, one page at a time, with a nextToken only this API's pages can produce."""

from __future__ import annotations

import base64
import json

import pytest

from limio_sync import api
from limio_sync.models import CustomerRef, JobStatus, SyncJob

CUSTOMER = api.CustomerKey(salesforceAccountId="0015g00000Ab3XQ")  # the 15-character form


class FakeHistory:
    def __init__(self, jobs: list[SyncJob], page_size: int):
        self.jobs, self.page_size, self.calls = jobs, page_size, []

    def history(self, customer_key, *, limit, start_after=None):
        self.calls.append((customer_key, limit, start_after))
        start = int(start_after["syncId"][-2:]) + 1 if start_after else 0
        page = self.jobs[start : start + min(limit, self.page_size)]
        more = start + len(page) < len(self.jobs)
        last = {"syncId": page[-1].syncId, "itemKey": "JOB", "customerKey": customer_key, "startedAt": page[-1].startedAt} if more else None
        return page, last


def job(n: int) -> SyncJob:
    return SyncJob(
        syncId=f"sync-{n:032x}", status=JobStatus.SUCCEEDED, customer=CUSTOMER.customer(), startedAt=f"2026-11-{25 - n:02d}T10:00:00.000Z", total=3
    )


def test_a_page_carries_summaries_and_a_token_that_reads_the_next_page():
    store = FakeHistory([job(n) for n in range(3)], page_size=2)

    first = api.list_syncs(CUSTOMER, jobs=store, limit=2)
    second = api.list_syncs(CUSTOMER, jobs=store, limit=2, next_token=first.nextToken)

    assert [s.syncId for s in first.syncs + second.syncs] == [job(n).syncId for n in range(3)]
    assert second.nextToken is None
    assert store.calls[0][0] == CustomerRef(salesforceAccountId="0015g00000Ab3XQAAZ").key()  # one key for 15 and 18 chars
    assert "subscriptions" not in first.syncs[0].model_dump()


@pytest.mark.parametrize(
    "token",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(json.dumps({"syncId": "x"}).encode()).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"syncId": "x", "itemKey": "JOB", "customerKey": "zuora:A00000001", "startedAt": "2026"}).encode()
        ).decode(),
    ],
)
def test_a_token_this_api_did_not_issue_for_this_customer_is_a_400(token):
    with pytest.raises(api.ApiError) as refused:
        api.list_syncs(CUSTOMER, jobs=FakeHistory([], page_size=2), limit=2, next_token=token)

    assert (refused.value.status, refused.value.code) == (400, "VALIDATION_ERROR")
