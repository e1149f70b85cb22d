"""Limio's customer records: created with their Salesforce identity link when a sync meets a new customer,
kept current (name, email, billing contact, Zuora accounts) when a subscription of theirs changes."""

from __future__ import annotations

from typing import Any

from limio_sync.stores import aws
from limio_sync.sync_rules import LimioSubscription


class LimioCustomerStore:
    def __init__(self, table_name: str, table: Any | None = None):
        self._table = table or aws.resource("dynamodb").Table(table_name)

    def upsert_from(self, records: list[LimioSubscription], *, synced_at: str) -> bool:
        """One atomic update from some of one customer's subscription records (the last one gives the name and
        contact), safe while other tasks of the same customer run in parallel (the account numbers are a set
        added to, not a list overwritten). True when the customer was new."""
        record = records[-1]
        values: dict[str, Any] = {
            ":owner": record.owner,
            ":name": record.customerName,
            ":email": record.customerEmail,
            ":contact": record.billingContact.model_dump(mode="json") if record.billingContact else None,
            ":account": {r.zuoraAccountNumber for r in records},
            ":now": synced_at,
        }
        update = "SET #owner = :owner, #name = :name, email = :email, billingContact = :contact, updatedAt = :now, "
        update += "createdAt = if_not_exists(createdAt, :now)"
        if record.salesforceAccountId:
            update += ", salesforceIdentity = :identity"
            values[":identity"] = {"id": record.owner, "service": "salesforce", "type": "account", "externalId": record.salesforceAccountId}
        with aws.store_errors("The Limio customer store"):
            reply = self._table.update_item(
                Key={"customerId": record.customerId},
                UpdateExpression=update + " ADD zuoraAccountNumbers :account",
                ExpressionAttributeNames={"#owner": "owner", "#name": "name"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
            )
        return "createdAt" not in reply.get("Attributes", {})

    def get(self, customer_id: str) -> dict | None:
        with aws.store_errors("The Limio customer store"):
            return self._table.get_item(Key={"customerId": customer_id}, ConsistentRead=True).get("Item")
