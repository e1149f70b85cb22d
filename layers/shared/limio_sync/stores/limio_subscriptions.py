"""Limio's subscription records in DynamoDB, keyed by the Zuora subscription number."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from limio_sync.content_hash import CONTENT_HASH_ATTRIBUTE, StoredDigest
from limio_sync.stores import aws
from limio_sync.sync_rules import LimioSubscription

BY_CUSTOMER_INDEX = "byCustomer"
BY_ZUORA_ACCOUNT_INDEX = "byZuoraAccount"
DIGEST_ATTRIBUTES = ("subscriptionNumber", "id", "zuoraVersion", CONTENT_HASH_ATTRIBUTE)


class LimioSubscriptionStore:
    def __init__(self, table_name: str, table: Any | None = None):
        self._table = table or aws.resource("dynamodb").Table(table_name)

    def for_customer(self, customer_id: str) -> list[LimioSubscription]:
        """Every subscription Limio holds for a customer, by number."""
        return [LimioSubscription.model_validate(item) for item in self._query_customer(customer_id)]

    def for_zuora_account(self, account_number: str) -> list[LimioSubscription]:
        return [LimioSubscription.model_validate(item) for item in self._query(BY_ZUORA_ACCOUNT_INDEX, Key("zuoraAccountNumber").eq(account_number))]

    def numbers_for_customer(self, customer_id: str) -> list[str]:
        return [item["subscriptionNumber"] for item in self._query_customer(customer_id, keys_only=True)]

    def numbers_for_zuora_account(self, account_number: str) -> list[str]:
        """The subscriptions Limio holds under one Zuora account (the scope of a sync by account number)."""
        condition = Key("zuoraAccountNumber").eq(account_number)
        return [item["subscriptionNumber"] for item in self._query(BY_ZUORA_ACCOUNT_INDEX, condition, keys_only=True)]

    def _query_customer(self, customer_id: str, *, keys_only: bool = False) -> list[dict]:
        return self._query(BY_CUSTOMER_INDEX, Key("customerId").eq(customer_id), keys_only=keys_only)

    def _query(self, index: str, condition: Any, *, keys_only: bool = False) -> list[dict]:
        kwargs: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": condition}
        if keys_only:
            kwargs["ProjectionExpression"] = "subscriptionNumber"
        items: list[dict] = []
        with aws.store_errors("The Limio subscription store"):
            while True:
                page = self._table.query(**kwargs)
                items.extend(page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return items
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get(self, subscription_number: str) -> LimioSubscription | None:
        with aws.store_errors("The Limio subscription store"):
            item = self._table.get_item(Key={"subscriptionNumber": subscription_number}, ConsistentRead=True).get("Item")
        return LimioSubscription.model_validate(item) if item else None

    def get_many(self, subscription_numbers: list[str]) -> dict[str, LimioSubscription]:
        """The records Limio holds among these subscriptions, by number (consistent reads, 100 per call)."""
        keys = [{"subscriptionNumber": number} for number in subscription_numbers]
        items = aws.batch_get(self._table, keys, "The Limio subscription store") if keys else []
        return {item["subscriptionNumber"]: LimioSubscription.model_validate(item) for item in items}

    def digests(self, subscription_numbers: list[str]) -> dict[str, StoredDigest]:
        """The unchanged fast path's view of the records Limio holds among these subscriptions (a projection of
        their number, id, version and content hash), by number."""
        keys = [{"subscriptionNumber": number} for number in subscription_numbers]
        items = aws.batch_get(self._table, keys, "The Limio subscription store", DIGEST_ATTRIBUTES) if keys else []
        return {item["subscriptionNumber"]: StoredDigest.model_validate(item) for item in items}

    def save(self, record: LimioSubscription, content_hash: str | None = None) -> bool:
        """Write the record (with the content hash of what the rules made of Zuora, for the next sync's fast
        path) unless Limio meanwhile holds a newer Zuora version. False when a newer one won."""
        item = {k: v for k, v in record.model_dump(mode="json").items() if v is not None}
        if content_hash:
            item[CONTENT_HASH_ATTRIBUTE] = content_hash
        condition = Attr("subscriptionNumber").not_exists() | Attr("zuoraVersion").lte(record.zuoraVersion)
        try:
            with aws.store_errors("The Limio subscription store"):
                self._table.put_item(Item=item, ConditionExpression=condition)
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True
