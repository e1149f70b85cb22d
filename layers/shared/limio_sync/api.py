"""The API's contract and logic: starting a sync (202 at once, no Zuora call) and reading its job record."""

from __future__ import annotations

import json
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from limio_sync.errors import ErrorCode
from limio_sync.ids import new_sync_id
from limio_sync.models import AccountNumber, CustomerRef, JobFailure, JobStatus, SyncJob
from limio_sync.observability import logger
from limio_sync.validation import SalesforceId


class StartSyncRequest(BaseModel):
    """Body of POST /syncs: the customer, named by exactly one key."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    salesforceAccountId: SalesforceId | None = Field(
        default=None, description="Salesforce Account id (15 or 18 chars); every Zuora account whose crmId matches is synced."
    )
    zuoraAccountNumber: AccountNumber | None = Field(default=None, description="One Zuora account number, e.g. A00001001.")
    requestedBy: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = Field(
        default=None, description="Who clicked Sync (for the audit trail), e.g. the Salesforce user id."
    )

    @model_validator(mode="after")
    def _exactly_one_customer_key(self) -> StartSyncRequest:
        given = [name for name in ("salesforceAccountId", "zuoraAccountNumber") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("give exactly one of salesforceAccountId or zuoraAccountNumber")
        return self

    def customer(self) -> CustomerRef:
        return CustomerRef(salesforceAccountId=self.salesforceAccountId, zuoraAccountNumber=self.zuoraAccountNumber)


class StartSyncResponse(BaseModel):
    syncId: str
    status: JobStatus
    statusUrl: str


class ApiError(Exception):
    """An error the API answers with its own status and a stable code."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Jobs(Protocol):
    def create(self, job: SyncJob) -> None: ...
    def get(self, sync_id: str) -> SyncJob | None: ...
    def fail(self, sync_id: str, failure: JobFailure) -> bool: ...


class Executions(Protocol):
    def start_execution(self, **kwargs) -> dict: ...


def start_sync(request: StartSyncRequest, *, jobs: Jobs, executions: Executions, state_machine_arn: str, now: str) -> SyncJob:
    """Record the job as RUNNING, then start the execution named after it. If the start fails, the job
    is ended FAILED at once so nothing is left RUNNING."""
    sync_id = new_sync_id()
    job = SyncJob(syncId=sync_id, status=JobStatus.RUNNING, customer=request.customer(), requestedBy=request.requestedBy, startedAt=now)
    jobs.create(job)
    execution_input = {"syncId": sync_id, "customer": job.customer.model_dump(exclude_none=True)}
    try:
        executions.start_execution(stateMachineArn=state_machine_arn, name=sync_id, input=json.dumps(execution_input))
    except Exception as exc:
        logger.exception("Could not start the sync execution")
        jobs.fail(sync_id, JobFailure(errorCode=ErrorCode.EXECUTION_FAILED, message="the sync could not be started; try again."))
        raise ApiError(503, "SYNC_NOT_STARTED", "The sync could not be started right now; try again in a moment.") from exc
    logger.info("Sync started", extra={"customer": job.customer.describe()})
    return job


def get_sync(sync_id: str, *, jobs: Jobs) -> SyncJob:
    job = jobs.get(sync_id)
    if job is None:
        raise ApiError(404, "SYNC_NOT_FOUND", f"No sync has id {sync_id}.")
    return job
