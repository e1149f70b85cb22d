"""Failures that ran out of scheduled retries, kept in an SQS dead-letter queue for an operator."""

from __future__ import annotations

import json
from typing import Any

from limio_sync.retries import RetryEntry
from limio_sync.stores import aws

RECEIVE_BATCH = 10


class DeadLetterQueue:
    def __init__(self, queue_url: str, sqs: Any | None = None):
        self._url = queue_url
        self._sqs = sqs or aws.client("sqs")

    def send(self, entry: RetryEntry) -> None:
        with aws.store_errors("The dead-letter queue"):
            self._sqs.send_message(QueueUrl=self._url, MessageBody=entry.model_dump_json())

    def drain(self) -> list[tuple[RetryEntry, str]]:
        """Every waiting message with its receipt handle (delete each once it has been dealt with)."""
        drained: list[tuple[RetryEntry, str]] = []
        while True:
            with aws.store_errors("The dead-letter queue"):
                messages = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=RECEIVE_BATCH, WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return drained
            drained.extend((RetryEntry.model_validate(json.loads(m["Body"])), m["ReceiptHandle"]) for m in messages)

    def delete(self, receipt_handle: str) -> None:
        with aws.store_errors("The dead-letter queue"):
            self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=receipt_handle)
