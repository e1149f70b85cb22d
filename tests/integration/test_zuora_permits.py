"""The shared bound on Zuora requests in flight, against DynamoDB (moto): never more than the limit at once,
across threads; a lease whose holder died lapses and is taken back; a taker that finds none free gives up with a
transient ZUORA_RATE_LIMITED after its wait; a permit that cannot be given back does not fail the request."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from limio_sync.errors import ErrorCode, TransientSyncError
from limio_sync.stores.zuora_permits import PERMITS_KEY, ZuoraRequestPermits
from tests.clocks import SleepingClock


@pytest.fixture
def table():
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="eu-west-2")
        yield dynamodb.create_table(
            TableName="permits",
            KeySchema=[{"AttributeName": "permitKey", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "permitKey", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def test_never_more_requests_in_flight_than_the_limit_across_threads(table):
    permits = ZuoraRequestPermits("permits", 2, table=table)
    in_flight, peak, lock = 0, 0, threading.Lock()

    def request() -> None:
        nonlocal in_flight, peak
        with permits():
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            time.sleep(0.02)  # a Zuora call in progress, holding its permit
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert peak == 2
    assert table.get_item(Key=PERMITS_KEY)["Item"]["holders"] == {}  # every permit given back


def test_a_lease_whose_holder_died_lapses_and_is_taken_back(table):
    clock = SleepingClock(1_800_000_000.0)
    permits = ZuoraRequestPermits("permits", 1, table=table, clock=clock, sleep=clock.sleep, lease_seconds=60)
    died_holding = permits()  # a Lambda that timed out while holding it: never given back
    died_holding.__enter__()

    clock.now += 61
    with permits():
        holders = table.get_item(Key=PERMITS_KEY)["Item"]["holders"]

    assert len(holders) == 1 and clock.slept == []
    died_holding.__exit__(None, None, None)  # only now, after the lapse freed its permit


def test_a_taker_that_finds_no_permit_free_waits_then_gives_up_as_rate_limited(table):
    clock = SleepingClock(1_800_000_000.0)
    permits = ZuoraRequestPermits("permits", 1, table=table, clock=clock, sleep=clock.sleep, lease_seconds=600, max_wait_seconds=5)
    held = permits()
    held.__enter__()

    with pytest.raises(TransientSyncError) as raised, permits():
        pytest.fail("a second permit was given")

    assert raised.value.code is ErrorCode.ZUORA_RATE_LIMITED and "all 1 of this service's concurrent Zuora requests" in raised.value.message
    assert 5 <= sum(clock.slept) < 6 and len(clock.slept) > 5  # jittered backoff, not one long sleep
    held.__exit__(None, None, None)


def test_a_permit_that_cannot_be_given_back_does_not_fail_the_request(table, monkeypatch):
    permits = ZuoraRequestPermits("permits", 1, table=table)
    update = table.update_item

    def throttled_release(**kwargs):
        if kwargs["UpdateExpression"].startswith("REMOVE holders.#token"):
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "UpdateItem")
        return update(**kwargs)

    monkeypatch.setattr(table, "update_item", throttled_release)
    with permits():
        answered = "the Zuora answer"

    assert answered == "the Zuora answer"
