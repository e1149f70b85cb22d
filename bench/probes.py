"""What the benchmark observes inside the local stack, without changing it.

* `AwsMeter` wraps botocore's `BaseClient._make_request` for this process, so every boto3 client (each
  handler builds its own session) is seen, with the request as serialized (typed DynamoDB values, even from
  the `Table` resource) and the response as parsed: DynamoDB writes and reads by table and operation, with
  their write/read request units from the item sizes, and S3 requests. Each call is attributed to the Lambda
  function running on that thread, or to `StateMachine` outside any: the state machine's own SDK
  integrations (while it measures, the bench itself makes no DynamoDB or S3 call).
* `HandlerTimer` wraps the local cloud's handler runner to time every invocation (wall and thread CPU) and
  tell the meter which function is running. It relies on `LocalCloud._run_handler`, and says so if it is gone.
* `CallTrace` (installed with the timer) records, per invocation, every AWS and Zuora call with the thread it
  ran on (a handler's thread pools carry its invocation into their workers), and the thread CPU spent inside
  moto (its `BotocoreStubber`, where an in-process moto serves botocore's request: AWS's share, not ours) and in
  the bench's own bookkeeping, so `our_cpu_seconds` is the handler's CPU without them: the input of the AWS-time
  model (bench/aws_model.py).
* `history_counts` turns a Step Functions execution history into state transitions and Lambda tasks.
"""

from __future__ import annotations

import gc
import json
import math
import threading
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
from botocore.client import BaseClient
from moto.core.botocore_stubber import BotocoreStubber

DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
S3_OPERATIONS = frozenset({"PutObject", "GetObject", "HeadObject", "DeleteObject", "ListObjectsV2"})
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
OUTSIDE_ANY_FUNCTION = "StateMachine"

_current = threading.local()


def current_function() -> str:
    return getattr(_current, "function", OUTSIDE_ANY_FUNCTION)


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes of one DynamoDB attribute value (low-level form), per DynamoDB's item size rules."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: member}) for member in inner)
    if kind == "L":
        return 3 + sum(1 + attribute_size(member) for member in inner)
    if kind == "M":
        return 3 + sum(len(name.encode()) + 1 + attribute_size(member) for name, member in inner.items())
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def item_size(item: dict[str, dict[str, Any]]) -> int:
    """Bytes of an item: every attribute's name plus its value."""
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(item: dict[str, dict[str, Any]] | None) -> int:
    """Write request units of writing one item (1 per started KB; at least 1)."""
    return max(1, math.ceil(item_size(item or {}) / WRITE_UNIT_BYTES))


def read_units(items: Iterable[dict[str, dict[str, Any]]], *, consistent: bool) -> float:
    """Read request units of one read returning `items` (1 per started 4 KB strongly consistent, half eventually)."""
    units = max(1, math.ceil(sum(item_size(item) for item in items) / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


@dataclass
class TableUsage:
    writes: Counter = field(default_factory=Counter)  # operation -> items written (a batch counts its items)
    write_units: int = 0
    reads: Counter = field(default_factory=Counter)  # operation -> calls
    read_units: float = 0.0

    @property
    def items_written(self) -> int:
        return sum(self.writes.values())


class AwsMeter:
    """DynamoDB and S3 usage of every boto3 client in the process, by function and table."""

    def __init__(self, table_names: dict[str, str]) -> None:
        self._logical_ids = {name: logical_id for logical_id, name in table_names.items()}
        self._lock = threading.Lock()
        self._usage: dict[tuple[str, str], TableUsage] = defaultdict(TableUsage)
        self._s3: Counter = Counter()
        self._original: Callable[..., Any] | None = None

    def install(self) -> None:
        original = BaseClient._make_request
        meter = self

        def metered(client: BaseClient, operation_model: Any, request_dict: dict[str, Any], request_context: Any) -> Any:
            http, parsed = original(client, operation_model, request_dict, request_context)
            bookkeeping = time.thread_time()
            service, operation = operation_model.service_model.service_name, operation_model.name
            if service == "dynamodb" and (operation in DYNAMODB_WRITES or operation in DYNAMODB_READS):
                meter._record_dynamodb(operation, json.loads(request_dict["body"] or b"{}"), parsed)
            elif service == "s3" and operation in S3_OPERATIONS:
                with meter._lock:
                    meter._s3[(current_function(), operation)] += 1
            body = request_dict.get("body") or b""
            sent = len(body) if isinstance(body, bytes | str) else 0
            received = int((getattr(http, "headers", None) or {}).get("content-length") or 0)
            record_call(f"{service}:{operation}", max(sent, received))
            add_probe_cpu(time.thread_time() - bookkeeping)
            return http, parsed

        self._original = original
        BaseClient._make_request = metered  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._original is not None:
            BaseClient._make_request = self._original  # type: ignore[method-assign]
            self._original = None

    def reset(self) -> None:
        with self._lock:
            self._usage.clear()
            self._s3.clear()

    def _table(self, name: str) -> str:
        return self._logical_ids.get(name, name)

    def _record_dynamodb(self, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        function = current_function()
        with self._lock:
            if operation in ("PutItem", "DeleteItem", "UpdateItem"):
                usage = self._usage[(function, self._table(params["TableName"]))]
                usage.writes[operation] += 1
                usage.write_units += write_units(params.get("Item") or _updated_item(params, response))
            elif operation == "BatchWriteItem":
                for table, requests in params["RequestItems"].items():
                    usage = self._usage[(function, self._table(table))]
                    usage.writes[operation] += len(requests)
                    usage.write_units += sum(write_units((r.get("PutRequest") or r.get("DeleteRequest") or {}).get("Item")) for r in requests)
            elif operation == "TransactWriteItems":
                for entry in params["TransactItems"]:
                    ((kind, body),) = entry.items()
                    usage = self._usage[(function, self._table(body["TableName"]))]
                    usage.writes[operation] += 1
                    usage.write_units += 2 * write_units(body.get("Item"))  # transactions cost double
            elif operation in ("GetItem", "Query", "Scan"):
                usage = self._usage[(function, self._table(params["TableName"]))]
                usage.reads[operation] += 1
                items = [response["Item"]] if response.get("Item") else response.get("Items", [])
                usage.read_units += read_units(items, consistent=bool(params.get("ConsistentRead")))
            elif operation in ("BatchGetItem", "TransactGetItems"):
                usage = self._usage[(function, "(batch)")]
                usage.reads[operation] += 1

    def usage(self) -> dict[tuple[str, str], TableUsage]:
        """(function, table logical id) -> usage, a copy."""
        with self._lock:
            return {key: _copy(value) for key, value in self._usage.items()}

    def s3_requests(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._s3)

    def summary(self, counted: Callable[[str], bool] = lambda function: True) -> dict[str, Any]:
        """Totals over the functions `counted` accepts: items written by table and operation, WRU, reads
        by table and operation, RRU, S3 requests."""
        writes: dict[str, dict[str, int]] = defaultdict(dict)
        reads: dict[str, dict[str, int]] = defaultdict(dict)
        write_units_total, read_units_total = 0, 0.0
        for (function, table), usage in sorted(self.usage().items()):
            if not counted(function):
                continue
            for operation, count in usage.writes.items():
                writes[table][operation] = writes[table].get(operation, 0) + count
            for operation, count in usage.reads.items():
                reads[table][operation] = reads[table].get(operation, 0) + count
            write_units_total += usage.write_units
            read_units_total += usage.read_units
        s3: Counter = Counter()
        for (function, operation), count in self.s3_requests().items():
            if counted(function):
                s3[operation] += count
        return {
            "items_written": {table: sum(ops.values()) for table, ops in writes.items()},
            "writes": dict(writes),
            "write_units": write_units_total,
            "reads": dict(reads),
            "read_units": read_units_total,
            "s3_requests": dict(s3),
        }


def _updated_item(params: dict[str, Any], response: dict[str, Any]) -> dict[str, Any] | None:
    """UpdateItem is billed on the larger of the item before and after; the key plus the values set is a floor."""
    return {**params.get("Key", {}), **params.get("ExpressionAttributeValues", {})}


def _copy(usage: TableUsage) -> TableUsage:
    return TableUsage(writes=Counter(usage.writes), write_units=usage.write_units, reads=Counter(usage.reads), read_units=usage.read_units)


@dataclass(frozen=True)
class Invocation:
    function: str
    wall_seconds: float
    cpu_seconds: float
    payload_bytes: int = 0  # the larger of its event and its result, as JSON: a state's input or output
    peak_alloc_bytes: int | None = None  # tracemalloc's peak during the invocation, for the functions traced
    trace: InvocationTrace | None = None


@dataclass
class InvocationTrace:
    """One invocation's calls, by thread, in order, and where its CPU went (see the module docstring)."""

    function: str
    seq: int  # the order invocations started in
    kind: str = ""  # the API's HTTP method and path; a sync task's subscriptions ("3 subscriptions")
    subscriptions: int = 0
    main_thread: int = 0
    calls: list[tuple[int, str, int]] = field(default_factory=list)  # (thread, "service:Operation" or "zuora:GET /v1/...", bytes)
    handler_cpu: float = 0.0  # the handler's own thread
    worker_cpu: float = 0.0  # its thread pools' work
    moto_cpu: float = 0.0  # inside moto's stubber, on any of its threads
    probe_cpu: float = 0.0  # the bench's own bookkeeping, on any of its threads
    gc_cpu: float = 0.0  # the garbage collector's passes its threads triggered, outside moto
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def our_cpu_seconds(self) -> float:
        return max(0.0, self.handler_cpu + self.worker_cpu - self.moto_cpu - self.probe_cpu - self.gc_cpu)

    def as_dict(self) -> dict[str, Any]:
        threads: dict[int, list[list[Any]]] = defaultdict(list)
        for thread, name, size in self.calls:
            threads[thread].append([name, size])
        return {
            "function": self.function,
            "seq": self.seq,
            "kind": self.kind,
            "subscriptions": self.subscriptions,
            "our_cpu_ms": round(1000 * self.our_cpu_seconds, 2),
            "cpu_ms": round(1000 * (self.handler_cpu + self.worker_cpu), 2),
            "moto_cpu_ms": round(1000 * self.moto_cpu, 2),
            "probe_cpu_ms": round(1000 * self.probe_cpu, 2),
            "gc_cpu_ms": round(1000 * self.gc_cpu, 2),
            "main": threads.pop(self.main_thread, []),
            "workers": list(threads.values()),
        }


def current_trace() -> InvocationTrace | None:
    return getattr(_current, "trace", None)


def record_call(name: str, size: int = 0) -> None:
    trace = current_trace()
    if trace is not None:
        with trace.lock:
            trace.calls.append((threading.get_ident(), name, size))


def add_probe_cpu(seconds: float) -> None:
    trace = current_trace()
    if trace is not None:
        with trace.lock:
            trace.probe_cpu += seconds


class CallTrace:
    """Patches, while installed: moto's stubber (to time AWS's share of the CPU), ThreadPoolExecutor.submit (so a
    handler's workers are attributed to its invocation) and requests' Session.send (to see Zuora calls); and a
    garbage-collector callback: a full collection walks the whole local process (moto's copy of every table and
    object included, hundreds of MB at 1,000 subscriptions) and lands on whichever thread allocated last, hundreds
    of ms in one task; on Lambda a function collects only its own small heap, so those passes are not ours."""

    def __init__(self, zuora_base_url: str) -> None:
        self._zuora = zuora_base_url.rstrip("/")
        self._saved: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        stub_call, submit, send = BotocoreStubber.__call__, ThreadPoolExecutor.submit, requests.Session.send
        zuora = self._zuora

        def stubbed(stubber: Any, *args: Any, **kwargs: Any) -> Any:
            trace, started = current_trace(), time.thread_time()
            depth = getattr(_current, "in_moto", 0)
            _current.in_moto = depth + 1
            try:
                return stub_call(stubber, *args, **kwargs)
            finally:
                _current.in_moto = depth
                if trace is not None:
                    with trace.lock:
                        trace.moto_cpu += time.thread_time() - started

        def submitted(pool: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
            trace, function = current_trace(), current_function()
            if trace is None:
                return submit(pool, fn, *args, **kwargs)

            def in_invocation(*a: Any, **k: Any) -> Any:
                saved = (getattr(_current, "trace", None), getattr(_current, "function", None))
                _current.trace, _current.function = trace, function
                started = time.thread_time()
                try:
                    return fn(*a, **k)
                finally:
                    with trace.lock:
                        trace.worker_cpu += time.thread_time() - started
                    _current.trace, _current.function = saved
                    if saved[1] is None:
                        del _current.function

            return submit(pool, in_invocation, *args, **kwargs)

        def sent(session: requests.Session, request: Any, **kwargs: Any) -> Any:
            if request.url.startswith(zuora):
                path = request.url[len(zuora) :].split("?", 1)[0]
                record_call(f"zuora:{request.method} {path}")
            return send(session, request, **kwargs)

        self._saved = [(BotocoreStubber, "__call__", stub_call), (ThreadPoolExecutor, "submit", submit), (requests.Session, "send", send)]
        gc.callbacks.append(_collected)
        BotocoreStubber.__call__ = stubbed  # type: ignore[method-assign]
        ThreadPoolExecutor.submit = submitted  # type: ignore[method-assign]
        requests.Session.send = sent  # type: ignore[method-assign]

    def uninstall(self) -> None:
        for owner, name, original in self._saved:
            setattr(owner, name, original)
        self._saved = []
        if _collected in gc.callbacks:
            gc.callbacks.remove(_collected)


def _collected(phase: str, info: dict[str, Any]) -> None:
    """gc callback: a collection's thread CPU goes to the invocation whose thread triggered it, unless moto's
    (inside the stubber, already AWS's share)."""
    if phase == "start":
        _current.gc_started = time.thread_time()
        return
    started = getattr(_current, "gc_started", None)
    trace = current_trace()
    if started is None or trace is None or getattr(_current, "in_moto", 0):
        return
    with trace.lock:
        trace.gc_cpu += time.thread_time() - started


def _describe(function: str, event: Any) -> tuple[str, int]:
    """What an invocation was: the API's request line, or a sync task's number of subscriptions."""
    if not isinstance(event, dict):
        return "", 0
    if "httpMethod" in event:
        return f"{event['httpMethod']} {event.get('resource') or event.get('path')}", 0
    batch = event.get("batch")
    if isinstance(batch, dict):
        return "task", len(batch.get("items") or [])
    return "", 0


def _json_bytes(value: Any) -> int:
    try:
        return len(json.dumps(value, default=str).encode())
    except (TypeError, ValueError):
        return 0


class HandlerTimer:
    """Times every handler run by the local cloud, and marks the thread with the function it runs."""

    def __init__(self, cloud: Any) -> None:
        if not callable(getattr(cloud, "_run_handler", None)):
            raise RuntimeError("LocalCloud has no _run_handler any more: update bench/probes.py's HandlerTimer")
        self._cloud = cloud
        self._lock = threading.Lock()
        self._invocations: list[Invocation] = []
        self._seq = 0
        self.trace_memory_of: frozenset[str] = frozenset()

    def install(self) -> None:
        run = self._cloud._run_handler
        timer = self

        def timed(spec: Any, event: Any, invoked_arn: str) -> Any:
            payload = {"bytes": _json_bytes(event)}
            with timer.running(spec.logical_id, payload, event):
                result = run(spec, event, invoked_arn)
                payload["bytes"] = max(payload["bytes"], _json_bytes(result))
                return result

        self._cloud._run_handler = timed

    @contextmanager
    def running(self, function: str, payload: dict[str, int] | None = None, event: Any = None) -> Iterator[None]:
        previous, previous_trace = current_function(), current_trace()
        _current.function = function
        with self._lock:
            self._seq += 1
            seq = self._seq
        kind, subscriptions = _describe(function, event)
        trace = InvocationTrace(function, seq, kind, subscriptions, threading.get_ident())
        _current.trace = trace
        traced = function in self.trace_memory_of and not tracemalloc.is_tracing()
        if traced:
            tracemalloc.start()
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            elapsed, cpu_used = time.perf_counter() - wall, time.thread_time() - cpu
            peak = None
            if traced:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            trace.handler_cpu = cpu_used
            invocation = Invocation(function, elapsed, cpu_used, (payload or {}).get("bytes", 0), peak, trace)
            _current.function, _current.trace = previous, previous_trace
            with self._lock:
                self._invocations.append(invocation)

    def reset(self) -> None:
        with self._lock:
            self._invocations.clear()

    def traces(self, keep: Callable[[InvocationTrace], bool] = lambda trace: True) -> list[dict[str, Any]]:
        """The invocations' traces (those `keep` accepts), in the order they started."""
        with self._lock:
            invocations = list(self._invocations)
        traced = sorted((i.trace for i in invocations if i.trace is not None and keep(i.trace)), key=lambda t: t.seq)
        return [trace.as_dict() for trace in traced]

    def summary(self) -> dict[str, dict[str, float]]:
        """Per function: invocations, total and mean wall and CPU milliseconds."""
        with self._lock:
            invocations = list(self._invocations)
        by_function: dict[str, list[Invocation]] = defaultdict(list)
        for invocation in invocations:
            by_function[invocation.function].append(invocation)
        return {
            function: {
                "invocations": len(runs),
                "wall_ms_total": round(1000 * sum(r.wall_seconds for r in runs), 1),
                "wall_ms_mean": round(1000 * sum(r.wall_seconds for r in runs) / len(runs), 2),
                "cpu_ms_total": round(1000 * sum(r.cpu_seconds for r in runs), 1),
                "cpu_ms_mean": round(1000 * sum(r.cpu_seconds for r in runs) / len(runs), 2),
                "largest_payload_bytes": max(r.payload_bytes for r in runs),
                "peak_alloc_mib": max((round(r.peak_alloc_bytes / 2**20, 1) for r in runs if r.peak_alloc_bytes is not None), default=None),
            }
            for function, runs in sorted(by_function.items())
        }


def history_counts(events: list[dict[str, Any]]) -> dict[str, Any]:
    """State transitions of one execution, from its history.

    `state_entered` / `state_exited` count the `…StateEntered` / `…StateExited` events (every state of the
    top level and of every Map iteration). Step Functions bills a transition each time a state runs,
    retries included, so `billed_transitions` = states entered + Lambda retries (a retried Task schedules
    its Lambda again without entering the state again).
    """
    types = Counter(event["type"] for event in events)
    entered = sum(count for kind, count in types.items() if kind.endswith("StateEntered"))
    exited = sum(count for kind, count in types.items() if kind.endswith("StateExited"))
    lambda_tasks = types["LambdaFunctionScheduled"]
    task_states = types["TaskStateEntered"]
    retries = max(0, lambda_tasks - task_states)
    by_resource: Counter = Counter()
    for event in events:
        details = event.get("lambdaFunctionScheduledEventDetails")
        if details:
            by_resource[details["resource"].rsplit(":", 1)[-1]] += 1
    sizes = [
        len(str(details[key]).encode())
        for event in events
        for details in event.values()
        if isinstance(details, dict)
        for key in ("input", "output")
        if details.get(key)
    ]
    return {
        "events": len(events),
        "largest_payload_bytes": max(sizes, default=0),
        "state_entered": entered,
        "state_exited": exited,
        "retries": retries,
        "billed_transitions": entered + retries,
        "map_iterations": types["MapIterationStarted"],
        "lambda_tasks_by_function": dict(by_resource),
        "failed_lambda_tasks": types["LambdaFunctionFailed"] + types["LambdaFunctionTimedOut"],
    }


def history_phases(events: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds spent in each top-level phase: planning, the Map, gathering (first entry to last exit)."""
    if not events:
        return {}
    start = events[0]["timestamp"]
    marks: dict[str, list[float]] = defaultdict(list)
    for event in events:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails")
        if details and event["type"].endswith(("StateEntered", "StateExited")):
            marks[details["name"]].append((event["timestamp"] - start).total_seconds())
    phases = {name: round(max(times) - min(times), 3) for name, times in marks.items() if len(times) >= 2}
    phases["execution"] = round((events[-1]["timestamp"] - start).total_seconds(), 3)
    return phases
