"""The bench's trace: calls made on a handler's thread pools belong to its invocation, Zuora calls are seen by
route, and the CPU the trace reports as ours leaves out what moto spent."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests
import responses

from bench.probes import CallTrace, HandlerTimer, record_call

ZUORA = "http://zuora.test"


class FakeCloud:
    def _run_handler(self, spec, event, invoked_arn):  # the hook HandlerTimer wraps
        return None


@responses.activate
def test_a_handlers_pool_workers_and_zuora_calls_are_traced_under_its_invocation():
    responses.add(responses.GET, f"{ZUORA}/v1/accounts/A1", json={"success": True})
    timer, calls = HandlerTimer(FakeCloud()), CallTrace(ZUORA)
    calls.install()
    try:
        with timer.running("PlanSyncFunction", event={"syncId": "s"}):
            record_call("dynamodb:Query", 300)
            with ThreadPoolExecutor(max_workers=2) as pool:
                pool.submit(requests.get, f"{ZUORA}/v1/accounts/A1?x=1", timeout=5).result()
                pool.submit(record_call, "s3:PutObject", 1000).result()
        record_call("dynamodb:GetItem", 10)  # outside any invocation: nobody's
    finally:
        calls.uninstall()

    [trace] = timer.traces()
    assert trace["function"] == "PlanSyncFunction" and trace["main"] == [["dynamodb:Query", 300]]
    worker_calls = sorted(call for worker in trace["workers"] for call in worker)
    assert worker_calls == [["s3:PutObject", 1000], ["zuora:GET /v1/accounts/A1", 0]]


def test_our_cpu_leaves_out_the_time_spent_inside_moto():
    from moto.core.botocore_stubber import BotocoreStubber

    class BusyStubber(BotocoreStubber):
        def process_request(self, request):
            deadline = time.thread_time() + 0.05
            while time.thread_time() < deadline:
                pass

    stubber = BusyStubber()
    stubber.enabled = True
    timer, calls = HandlerTimer(FakeCloud()), CallTrace(ZUORA)
    calls.install()
    try:
        with timer.running("SyncSubscriptionFunction", event={"batch": {"items": [{}, {}]}}):
            stubber("before-send.dynamodb.GetItem", request=None)
    finally:
        calls.uninstall()

    [trace] = timer.traces()
    assert trace["subscriptions"] == 2 and trace["moto_cpu_ms"] >= 50
    assert trace["our_cpu_ms"] < trace["cpu_ms"] - 45
