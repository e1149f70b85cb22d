"""Limio's subscription records in DynamoDB, keyed by the Zuora subscription number."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from limio_sync.stores import aws
from limio_sync.sync_rules import LimioSubscription


class LimioSubscriptionStore:
    def __init__(self, table_name: str, table: Any | None = None):
        self._table = table or aws.resource("dynamodb").Table(table_name)

    def get(self, subscription_number: str) -> LimioSubscription | None:
        with aws.store_errors("The Limio subscription store"):
            item = self._table.get_item(Key={"subscriptionNumber": subscription_number}, ConsistentRead=True).get("Item")
        return LimioSubscription.model_validate(item) if item else None

    def save(self, record: LimioSubscription) -> bool:
        """Write the record unless Limio meanwhile holds a newer Zuora version. False when a newer one won."""
        item = {k: v for k, v in record.model_dump(mode="json").items() if v is not None}
        condition = Attr("subscriptionNumber").not_exists() | Attr("zuoraVersion").lte(record.zuoraVersion)
        try:
            with aws.store_errors("The Limio subscription store"):
                self._table.put_item(Item=item, ConditionExpression=condition)
        except ClientError as exc:
            if aws.error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True
