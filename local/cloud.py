"""The whole SAM application in one process: moto for AWS, our real handlers for Lambda.

`LocalCloud` starts moto with its Step Functions interpreter, creates every table, bucket, secret, queue and
state machine of the template, registers every function, and replaces moto's Lambda `invoke` so that a Lambda
call (from the state machine, from a handler, or from `LocalCloud.invoke`) runs the real handler in-process.
Known gaps against AWS: one shared process (environment, `sys.path`; each thread keeps its own logger keys, so a
log line names the function that wrote it), no timeout or memory limit,
no concurrency limit, and the hook relies on a moto internal (pinned, guarded by a canary test).
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from aws_lambda_powertools import Logger as PowertoolsLogger
from botocore.config import Config
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.responses import DynamoHandler

from local.sam_template import DEFAULT_REGION, DEFAULT_STACK_NAME, FunctionSpec, LocalTemplate, load_template

LOG = logging.getLogger(__name__)

MOTO_CONFIG = {"lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}}
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
# Per-function by nature; applied while the function's module loads, never process-wide.
PER_FUNCTION_VARIABLES = frozenset({"POWERTOOLS_SERVICE_NAME"})
# moto's interpreter logs every task failure (even one a Retry absorbs) at ERROR with the whole state's repr.
# The execution's status, error and history carry the same facts. It stays quiet after stop(): the threads of an
# execution still running then cannot be joined and would log their failed calls.
QUIET_LOGGERS = ("moto.stepfunctions.parser",)
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Runs in-process from the template's CodeUri; see local/cloud.py.\n")
    return buffer.getvalue()


_PLACEHOLDER_ZIP = _placeholder_zip()


class LocalCloudError(Exception):
    """The application cannot run locally as configured."""


class LambdaInvocationError(Exception):
    """A handler raised: carries the Lambda runtime's error payload."""

    def __init__(self, function: str, payload: Mapping[str, Any]) -> None:
        self.function = function
        self.payload = dict(payload)
        self.error_type = str(self.payload.get("errorType", "Unknown"))
        self.error_message = str(self.payload.get("errorMessage", ""))
        super().__init__(f"{function} failed with {self.error_type}: {self.error_message}")


@dataclass
class FunctionStats:
    count: int = 0
    errors: int = 0
    in_flight: int = 0
    peak_concurrency: int = 0


class InvocationStats:
    """Thread-safe invocation counters per function logical id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats: dict[str, FunctionStats] = {}

    def begin(self, function: str) -> None:
        with self._lock:
            stats = self._stats.setdefault(function, FunctionStats())
            stats.count += 1
            stats.in_flight += 1
            stats.peak_concurrency = max(stats.peak_concurrency, stats.in_flight)

    def end(self, function: str, failed: bool) -> None:
        with self._lock:
            stats = self._stats[function]
            stats.in_flight -= 1
            stats.errors += int(failed)

    def __getitem__(self, function: str) -> FunctionStats:
        with self._lock:
            return replace(self._stats.get(function, FunctionStats()))

    def snapshot(self) -> dict[str, FunctionStats]:
        with self._lock:
            return {function: replace(stats) for function, stats in self._stats.items()}

    def reset(self) -> None:
        with self._lock:
            self._stats = {name: FunctionStats(in_flight=stats.in_flight) for name, stats in self._stats.items()}


@dataclass
class LambdaContext:
    """The attributes and method of the Python runtime's context object that handlers and Powertools use."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: int
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


def _split_function_reference(reference: str) -> tuple[str, str | None]:
    """Name and qualifier of a plain name, `name:qualifier`, a full ARN or a partial ARN."""
    if ":function:" in reference:
        reference = reference.split(":function:", 1)[1]
    elif reference.startswith("function:"):
        reference = reference[len("function:") :]
    name, _, qualifier = reference.partition(":")
    return name, qualifier or None


def _header(headers: Any, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


class LocalCloud:
    """Run a SAM application in this process on moto; see the module docstring."""

    def __init__(
        self,
        template_path: str | Path = "template.yaml",
        parameter_overrides: dict[str, str] | None = None,
        environment_overrides: dict[str, str] | None = None,
        region: str = DEFAULT_REGION,
        stack_name: str = DEFAULT_STACK_NAME,
    ) -> None:
        self.region = region
        self.template: LocalTemplate = load_template(
            template_path, parameter_overrides, region=region, account_id=DEFAULT_ACCOUNT_ID, stack_name=stack_name
        )
        self.environment = self._process_environment(environment_overrides or {})
        self.invocations = InvocationStats()
        self._mock: Any = None
        self._original_invoke: Callable[..., Any] | None = None
        self._original_dynamodb_action: Callable[..., Any] | None = None
        self._saved_environ: dict[str, str] | None = None
        self._added_sys_path: list[str] = []
        self._modules: dict[str, ModuleType] = {}
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._load_lock = threading.RLock()
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalCloud:
        if self._started:
            raise LocalCloudError("This LocalCloud is already started")
        if LambdaSimpleBackend.invoke is not _ORIGINAL_INVOKE:
            raise LocalCloudError("Another LocalCloud is running in this process; stop it first")
        self._saved_environ = dict(os.environ)
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self._mock = mock_aws(config=MOTO_CONFIG)  # type: ignore[arg-type]
        self._mock.start()
        self._started = True
        try:
            self._apply_environment()
            self._add_layers_to_sys_path()
            self._install_lambda_hook()
            self._make_dynamodb_requests_atomic()
            self._create_resources()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if not self._started:
            return
        try:
            self._stop_running_executions()
        finally:
            self._started = False
            if self._original_invoke is not None:
                LambdaSimpleBackend.invoke = self._original_invoke  # type: ignore[method-assign]
                self._original_invoke = None
            if self._original_dynamodb_action is not None:
                DynamoHandler.call_action = self._original_dynamodb_action  # type: ignore[method-assign]
                self._original_dynamodb_action = None
            self._mock.stop()
            self._mock = None
            for name, module in self._modules.items():
                if sys.modules.get(name) is module:
                    del sys.modules[name]
            self._modules.clear()
            self._handlers.clear()
            self._clients.clear()
            for entry in self._added_sys_path:
                if entry in sys.path:
                    sys.path.remove(entry)
            self._added_sys_path.clear()
            if self._saved_environ is not None:
                os.environ.clear()
                os.environ.update(self._saved_environ)
                self._saved_environ = None

    # ------------------------------------------------------------------ public API

    def client(self, service: str) -> Any:
        """A boto3 client for moto in this region (cached; botocore clients are thread-safe)."""
        if not self._started:
            raise LocalCloudError("Start the LocalCloud first: outside moto this client would call AWS")
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(
                    service,
                    region_name=self.region,
                    aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    config=Config(retries={"total_max_attempts": 1}, read_timeout=900, max_pool_connections=50),
                )
            return self._clients[service]

    @property
    def function_names(self) -> dict[str, str]:
        """Physical name of every function, by logical id."""
        return {logical_id: spec.name for logical_id, spec in self.template.functions.items()}

    def invoke(self, function: str, event: Any) -> Any:
        """Invoke a function (logical id, name or ARN) synchronously through Lambda, as the state machine does.

        Returns the handler's decoded result; raises `LambdaInvocationError` if the handler raised.
        """
        spec = self.template.function(function)
        response = self.client("lambda").invoke(FunctionName=spec.name, Payload=json.dumps(event).encode())
        raw = response["Payload"].read()
        payload = json.loads(raw) if raw else None
        if response.get("FunctionError"):
            raise LambdaInvocationError(spec.logical_id, payload if isinstance(payload, dict) else {})
        return payload

    def state_machine_arn(self, logical_id: str | None = None) -> str:
        machines = self.template.state_machines
        if logical_id is None:
            if len(machines) != 1:
                raise LocalCloudError(f"Name the state machine: the template has {sorted(machines) or 'none'}")
            return next(iter(machines.values())).arn
        if logical_id not in machines:
            raise LocalCloudError(f"No state machine {logical_id!r}; the template has {sorted(machines)}")
        return machines[logical_id].arn

    def start_execution(self, input: Any, name: str, logical_id: str | None = None) -> str:
        """Start an execution; the name is required because moto names unnamed executions `None`."""
        response = self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn(logical_id), name=name, input=json.dumps(input)
        )
        return response["executionArn"]

    def wait_for_execution(self, execution_arn: str, timeout: float = 60, poll: float = 0.05) -> dict[str, Any]:
        """Poll DescribeExecution until the execution ends; return the terminal description."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            description = sfn.describe_execution(executionArn=execution_arn)
            if description["status"] in TERMINAL_STATUSES:
                # moto sets the status a moment before the output or error: read once more, after it settles.
                time.sleep(poll)
                return sfn.describe_execution(executionArn=execution_arn)
            if time.monotonic() > deadline:
                raise TimeoutError(f"Execution {execution_arn} still {description['status']} after {timeout} s")
            time.sleep(poll)

    # ------------------------------------------------------------------ environment

    def _process_environment(self, overrides: dict[str, str]) -> dict[str, str]:
        """The union of the functions' environments; a variable two functions disagree on cannot be shared."""
        merged: dict[str, str] = {}
        origin: dict[str, str] = {}
        for spec in self.template.functions.values():
            for key, value in spec.environment.items():
                if key in PER_FUNCTION_VARIABLES or key in overrides:
                    continue
                if key in merged and merged[key] != value:
                    raise LocalCloudError(
                        f"Environment variable {key} is {merged[key]!r} in {origin[key]} but {value!r} in "
                        f"{spec.logical_id}; all functions share one process locally, so give them one value "
                        "or pass it in environment_overrides"
                    )
                merged[key] = value
                origin.setdefault(key, spec.logical_id)
        service_names = {
            spec.environment[name] for spec in self.template.functions.values() for name in PER_FUNCTION_VARIABLES if name in spec.environment
        }
        shared = {"POWERTOOLS_SERVICE_NAME": service_names.pop()} if len(service_names) == 1 else {}
        forced = {
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **FAKE_CREDENTIALS,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "false",
        }
        return {**shared, **merged, **forced, **overrides}

    def _apply_environment(self) -> None:
        for variable in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
            if variable not in self.environment:
                os.environ.pop(variable, None)
        os.environ.update(self.environment)

    def _add_layers_to_sys_path(self) -> None:
        for spec in self.template.functions.values():
            for layer_dir in spec.layers:
                entry = str(layer_dir)
                if entry not in sys.path:
                    sys.path.insert(0, entry)
                    self._added_sys_path.append(entry)

    # ------------------------------------------------------------------ resources

    def _create_resources(self) -> None:
        template = self.template
        role_arn = self.client("iam").create_role(
            RoleName=f"{template.stack_name}-local-runtime",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        for table in template.tables.values():
            self.client("dynamodb").create_table(**table.create_table_kwargs())
            if table.ttl_attribute:
                self.client("dynamodb").update_time_to_live(
                    TableName=table.name,
                    TimeToLiveSpecification={"AttributeName": table.ttl_attribute, "Enabled": True},
                )
        for bucket in template.buckets.values():
            location = {"LocationConstraint": self.region}
            if self.region == "us-east-1":
                self.client("s3").create_bucket(Bucket=bucket.name)
            else:
                self.client("s3").create_bucket(Bucket=bucket.name, CreateBucketConfiguration=location)
        for secret in template.secrets.values():
            self._create_secret(secret)
        self._create_queues()
        for spec in template.functions.values():
            created = self.client("lambda").create_function(
                FunctionName=spec.name,
                Runtime=spec.runtime or "python3.11",
                Role=role_arn,
                Handler=spec.handler,
                Code={"ZipFile": _PLACEHOLDER_ZIP},
                Timeout=spec.timeout,
                MemorySize=spec.memory_size,
                Environment={"Variables": spec.environment},
            )
            _expect_same(spec.logical_id, spec.arn, created["FunctionArn"])
        for machine in template.state_machines.values():
            created = self.client("stepfunctions").create_state_machine(
                name=machine.name, definition=machine.definition_json, roleArn=role_arn, type=machine.type
            )
            _expect_same(machine.logical_id, machine.arn, created["stateMachineArn"])

    def _create_secret(self, secret: Any) -> None:
        arguments: dict[str, Any] = {
            "Name": secret.name,
            # moto's documented custom-id tag: the ARN gets the template's deterministic suffix, so the
            # ARN handlers read from their environment is the one Secrets Manager knows.
            "Tags": [{"Key": "_custom_id_", "Value": secret.arn_suffix}],
        }
        if secret.secret_string is not None:
            arguments["SecretString"] = secret.secret_string
        if secret.description:
            arguments["Description"] = secret.description
        created = self.client("secretsmanager").create_secret(**arguments)
        _expect_same(secret.logical_id, secret.arn, created["ARN"])

    def _create_queues(self) -> None:
        """Create queues so that every dead-letter queue exists before the queue that redrives to it."""
        pending = dict(self.template.queues)
        created_arns: set[str] = set()
        while pending:
            ready = [
                queue for queue in pending.values() if not queue.redrive_policy or queue.redrive_policy.get("deadLetterTargetArn") in created_arns
            ]
            if not ready:
                raise LocalCloudError(f"Queues {sorted(pending)} redrive to queues not in the template")
            for queue in ready:
                url = self.client("sqs").create_queue(QueueName=queue.name, Attributes=queue.attributes)["QueueUrl"]
                _expect_same(queue.logical_id, queue.url, url)
                created_arns.add(queue.arn)
                del pending[queue.logical_id]

    def _stop_running_executions(self) -> None:
        sfn = self.client("stepfunctions")
        for machine in self.template.state_machines.values():
            try:
                running = sfn.list_executions(stateMachineArn=machine.arn, statusFilter="RUNNING")["executions"]
                for execution in running:
                    sfn.stop_execution(executionArn=execution["executionArn"])
            except Exception:  # noqa: BLE001 - best effort while shutting down
                LOG.debug("Could not stop running executions of %s", machine.logical_id, exc_info=True)

    # ------------------------------------------------------------------ the Lambda hook

    def _make_dynamodb_requests_atomic(self) -> None:
        """DynamoDB applies each request atomically; moto, called from several threads, does not: a transaction
        copies the whole table and, when cancelled (a repeat click finding the customer's lock), puts the copy
        back, erasing other threads' writes; the copy itself can fail mid-write. One request at a time restores
        DynamoDB's guarantee (the requests are in-memory and short)."""
        original = DynamoHandler.call_action
        lock = threading.RLock()

        def one_request_at_a_time(handler: DynamoHandler) -> Any:
            with lock:
                return original(handler)

        DynamoHandler.call_action = one_request_at_a_time  # type: ignore[method-assign]
        self._original_dynamodb_action = original

    def _install_lambda_hook(self) -> None:
        cloud = self
        original = LambdaSimpleBackend.invoke

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> str | bytes | None:
            name, arn_qualifier = _split_function_reference(function_name)
            try:
                spec = cloud.template.function(name)
            except KeyError:
                backend.get_function(function_name, qualifier)  # raises ResourceNotFoundException like AWS
                return original(backend, function_name, qualifier, body, headers, response_headers)
            invoked_arn = spec.arn + (f":{qualifier or arn_qualifier}" if (qualifier or arn_qualifier) else "")
            event = _decode_event(body)
            if (_header(headers, "X-Amz-Invocation-Type") or "").lower() == "event":
                threading.Thread(target=cloud._run_handler, args=(spec, event, invoked_arn), name=f"lambda-{spec.name}", daemon=True).start()
                return b""
            payload, failed = cloud._run_handler(spec, event, invoked_arn)
            if failed:
                response_headers["x-amz-function-error"] = "Unhandled"
            return payload

        self._original_invoke = original
        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]

    def _run_handler(self, spec: FunctionSpec, event: Any, invoked_arn: str) -> tuple[bytes, bool]:
        """Run the handler like the Python runtime: JSON result, or the runtime's error payload."""
        request_id = str(uuid.uuid4())
        context = LambdaContext(
            function_name=spec.name,
            invoked_function_arn=invoked_arn,
            memory_limit_in_mb=spec.memory_size,
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{spec.name}",
            log_stream_name=f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
            timeout_seconds=spec.timeout,
        )
        self.invocations.begin(spec.logical_id)
        failed = True
        try:
            try:
                handler = self._handler(spec)
            except Exception as error:  # noqa: BLE001 - reported as the runtime does
                LOG.error("%s: cannot import its handler %s", spec.logical_id, spec.handler, exc_info=True)
                message = f"Unable to import module {spec.handler.rpartition('.')[0]!r}: {error}"
                return _error_payload(error, request_id, "Runtime.ImportModuleError", message), True
            result = handler(event, context)
            try:
                payload = json.dumps(result).encode()
            except (TypeError, ValueError) as error:
                message = f"Unable to marshal response: {error}"
                return _error_payload(error, request_id, "Runtime.MarshalError", message), True
            failed = False
            return payload, False
        except Exception as error:  # noqa: BLE001 - the runtime reports every handler exception
            LOG.debug("%s raised %s", spec.logical_id, type(error).__name__, exc_info=True)
            return _error_payload(error, request_id), True
        finally:
            self.invocations.end(spec.logical_id, failed)

    def _handler(self, spec: FunctionSpec) -> Callable[[Any, Any], Any]:
        handler = self._handlers.get(spec.logical_id)
        if handler is not None:
            return handler
        with self._load_lock:
            if spec.logical_id not in self._handlers:
                self._handlers[spec.logical_id] = self._load_handler(spec)
            return self._handlers[spec.logical_id]

    def _load_handler(self, spec: FunctionSpec) -> Callable[[Any, Any], Any]:
        """Import the handler's file under a module name unique to the function: every function's is `app`."""
        module_path, _, function_name = spec.handler.rpartition(".")
        source = spec.code_dir / (module_path.replace(".", "/") + ".py")
        if not module_path or not source.is_file():
            raise LocalCloudError(f"{spec.logical_id}: handler {spec.handler!r} needs {source}, which does not exist")
        module_name = f"lambda_fn_{spec.logical_id}"
        module_spec = importlib.util.spec_from_file_location(module_name, source)
        if module_spec is None or module_spec.loader is None:
            raise LocalCloudError(f"{spec.logical_id}: cannot import {source}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        service_name = {name: spec.environment[name] for name in PER_FUNCTION_VARIABLES if name in spec.environment}
        previous = {name: os.environ.get(name) for name in service_name}
        os.environ.update(service_name)
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        self._modules[module_name] = module
        for value in vars(module).values():
            if isinstance(value, PowertoolsLogger):
                keep_log_keys_per_thread(value)
        handler = getattr(module, function_name, None)
        if not callable(handler):
            raise LocalCloudError(f"{spec.logical_id}: {source} has no callable {function_name!r}")
        return handler


_ORIGINAL_INVOKE = LambdaSimpleBackend.invoke


def keep_log_keys_per_thread(logger: PowertoolsLogger) -> None:
    """Give each thread its own copy of a Powertools logger's keys. On Lambda one invocation at a time runs per
    process, so the keys a handler appends (function name, request id, sync id...) are its own; here every
    function shares one process and runs on threads, and one shared set of keys would name another function on
    a line. A thread starts from the keys the logger had when this was applied (service, level...); threads that
    a handler starts itself (a pool) start from those too."""
    formatter = logger.registered_formatter
    if isinstance(formatter, _PerThreadKeys):
        return
    formatter.__class__ = type(f"PerThread{type(formatter).__name__}", (_PerThreadKeys, type(formatter)), {})
    formatter._initial_keys = dict(formatter.__dict__.pop("log_format"))
    formatter._keys = threading.local()


class _PerThreadKeys:
    """Mixed into a Powertools formatter: `log_format` (the keys every line carries) is read and replaced per thread."""

    _initial_keys: dict[str, Any]
    _keys: threading.local

    @property
    def log_format(self) -> dict[str, Any]:
        if not hasattr(self._keys, "value"):
            self._keys.value = dict(self._initial_keys)
        return self._keys.value

    @log_format.setter
    def log_format(self, value: dict[str, Any]) -> None:
        self._keys.value = value


def _decode_event(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return json.loads(body) if body else {}


def _error_payload(error: BaseException, request_id: str, error_type: str | None = None, message: str | None = None) -> bytes:
    return json.dumps(
        {
            "errorMessage": message if message is not None else str(error),
            "errorType": error_type or type(error).__name__,
            "requestId": request_id,
            "stackTrace": traceback.format_list(_handler_frames(error)),
        }
    ).encode()


def _handler_frames(error: BaseException) -> traceback.StackSummary:
    """The traceback from the handler down, without this module's frames, like the Lambda runtime reports it."""
    frames = traceback.extract_tb(error.__traceback__)
    first = 0
    while first < len(frames) - 1 and frames[first].filename == __file__:
        first += 1
    return traceback.StackSummary.from_list(frames[first:])


def _expect_same(logical_id: str, expected: str, actual: str) -> None:
    if expected != actual:
        raise LocalCloudError(f"{logical_id}: the template resolves to {expected!r} but moto created {actual!r}")
