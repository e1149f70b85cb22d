"""Domain models shared by the API, the state machine's tasks and the stores.

These are the shapes that cross a boundary (API bodies, state input/output, job records), validated with
pydantic at every edge. Field names are camelCase because they are what LFS and the state machine read.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from limio_sync import ids
from limio_sync.errors import ErrorCode

SyncId = Annotated[str, StringConstraints(pattern=r"^sync-[0-9a-f]{32}$")]
SubscriptionNumber = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
AccountNumber = Annotated[str, StringConstraints(min_length=1, max_length=70, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class Outcome(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    UNCHANGED = "UNCHANGED"
    FAILED = "FAILED"


class JobStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    PARTIALLY_FAILED = "PARTIALLY_FAILED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self is not JobStatus.RUNNING


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerRef(_Model):
    """Who to sync: exactly one of the two keys is set (validated at the API edge)."""

    salesforceAccountId: str | None = None
    zuoraAccountNumber: str | None = None

    def describe(self) -> str:
        if self.salesforceAccountId:
            return f"Salesforce account {self.salesforceAccountId}"
        return f"Zuora account {self.zuoraAccountNumber}"

    def key(self) -> str:
        """One key per customer however it was named: a 15-character Salesforce id and its 18-character
        form are the same account."""
        if self.salesforceAccountId:
            return f"salesforce:{ids.salesforce_id_18(self.salesforceAccountId)}"
        return f"zuora:{self.zuoraAccountNumber}"


class SyncItem(_Model):
    """One subscription to sync, and whose it is."""

    subscriptionNumber: SubscriptionNumber
    accountNumber: AccountNumber | None = None
    salesforceAccountId: str | None = None


BatchId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")]


class SyncBatch(_Model):
    """One unit of work for the Map state: the subscriptions one sync task brings up to date, and the S3 key
    of their Zuora snapshots (none for subscriptions the task must read from Zuora by number)."""

    batchId: BatchId
    items: list[SyncItem] = Field(min_length=1, max_length=100)
    snapshotKey: str | None = None

    @property
    def numbers(self) -> list[str]:
        return [item.subscriptionNumber for item in self.items]


class SubscriptionResult(_Model):
    """The receipt of one subscription's sync: exactly one per planned subscription."""

    subscriptionNumber: str
    outcome: Outcome
    errorCode: ErrorCode | None = None
    message: str | None = None
    retryable: bool = False
    zuoraVersion: int | None = None
    limioId: str | None = None
    changes: list[dict] | None = Field(default=None, description="Fields this sync changed, with before and after")

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAILED

    @property
    def settled(self) -> bool:
        """A final outcome: a success, or a failure retrying cannot help."""
        return not (self.failed and self.retryable)


class ItemsLocation(_Model):
    """Where a run's list of SyncBatches is (a JSON array in S3), for the distributed Map's ItemReader."""

    bucket: str
    key: str


class SyncPlan(_Model):
    """What planning hands to the Map. The items themselves go to S3; the state carries where they are. A
    customer small enough also gets its tasks in the state (`inline`, one subscription each), for the inline
    Map: no Map Run, whose fixed cost is seconds (see docs/benchmarks.md)."""

    syncId: SyncId
    customer: CustomerRef
    accountNumbers: list[str]
    total: int
    items: ItemsLocation
    retry: bool = False
    inline: list[SyncBatch] | None = None


class JobFailure(_Model):
    """Why a whole job failed (no subscription could be planned or gathered)."""

    errorCode: ErrorCode
    message: str


class CallerIdentity(_Model):
    """Who called the API, as API Gateway's IAM authorization established it (`requestContext.identity`): the
    signer's ARN (an IAM user, or an assumed role's session), its principal id and account. Unlike `requestedBy`,
    which the body says, the caller cannot choose it."""

    userArn: str | None = None
    principalId: str | None = None
    accountId: str | None = None


class SyncJob(_Model):
    """The job record LFS polls."""

    syncId: SyncId
    status: JobStatus
    customer: CustomerRef
    requestedBy: str | None = None
    caller: CallerIdentity | None = Field(default=None, description="The IAM identity that signed the POST /syncs")
    startedAt: str
    finishedAt: str | None = None
    total: int = 0
    settled: int = Field(
        default=0,
        description="How many of the total subscriptions have a final outcome so far: the progress of a running job (every task "
        "adds its own once it has recorded them); equals total once the job has ended",
    )
    counts: dict[str, int] = Field(default_factory=dict)
    subscriptions: list[SubscriptionResult] = Field(
        default_factory=list,
        description="Every subscription's outcome, once the job has ended (empty while it runs); what each sync changed is in "
        "GET /subscriptions/{subscriptionNumber}/events",
    )
    failedSubscriptions: list[str] = Field(default_factory=list)
    notification: str | None = None
    error: JobFailure | None = None
