"""Zuora snapshots taken while planning, one object per sync task (its subscriptions, their accounts and
billing-preview items), so a task reads Zuora's state without calling Zuora again. Kept in S3 (the bucket
expires them) so state payloads stay small."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from limio_sync.stores import aws


class SnapshotStore:
    def __init__(self, bucket_name: str, s3: Any | None = None):
        self._bucket = bucket_name
        self._s3 = s3 or aws.client("s3")

    @staticmethod
    def key_for(sync_id: str, batch_id: str) -> str:
        return f"syncs/{sync_id}/batches/{batch_id}.json"

    def put(self, sync_id: str, batch_id: str, raw: dict) -> str:
        key = self.key_for(sync_id, batch_id)
        with aws.store_errors("The snapshot store"):
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=json.dumps(raw).encode(), ContentType="application/json")
        return key

    def get(self, key: str) -> dict | None:
        """The snapshot, or None when it is gone (expired): the caller then reads Zuora instead."""
        try:
            with aws.store_errors("The snapshot store"):
                body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if aws.error_code(exc) in {"NoSuchKey", "404"}:
                return None
            raise
        return json.loads(body)


class ItemLists:
    """The list of subscriptions a run syncs, as a JSON array in S3: the distributed Map reads it from there,
    so the state machine's payloads stay small whatever the customer's size."""

    def __init__(self, bucket_name: str, s3: Any | None = None):
        self._bucket = bucket_name
        self._s3 = s3 or aws.client("s3")

    def put(self, sync_id: str, name: str, items: list[dict]) -> dict:
        key = f"syncs/{sync_id}/{name}.json"
        with aws.store_errors("The work bucket"):
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=json.dumps(items).encode(), ContentType="application/json")
        return {"bucket": self._bucket, "key": key}

    def get(self, location: dict) -> list[dict]:
        with aws.store_errors("The work bucket"):
            body = self._s3.get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()
        return json.loads(body)
