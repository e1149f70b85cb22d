"""The sync state machine's executions, as the sweep needs them: does the execution named after a sync exist?"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from limio_sync.stores import aws


class ExecutionStore:
    def __init__(self, state_machine_arn: str, client: Any | None = None):
        self._state_machine_arn = state_machine_arn
        self._client = client or aws.client("stepfunctions")

    def exists(self, name: str) -> bool:
        """Whether the state machine has (or had) an execution of this name; executions are named after their sync id.
        A Standard execution stays describable for 90 days after it ends, longer than any job the sweep looks at."""
        arn = self._state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name
        try:
            with aws.store_errors("Step Functions"):
                self._client.describe_execution(executionArn=arn)
        except ClientError as exc:
            if aws.error_code(exc) == "ExecutionDoesNotExist":
                return False
            raise
        return True
