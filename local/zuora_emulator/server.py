"""The HTTP server and `ZuoraEmulator`, the object tests and local runs drive it through."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import re
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import ValidationError

from local.zuora_emulator.admin import AdminError, ChangeTrigger, TriggerBook
from local.zuora_emulator.api import SharedRandom, ZuoraApi
from local.zuora_emulator.faults import FaultBook, FaultRule, fault_reply, reshape_reply
from local.zuora_emulator.stats import (
    RATE_LIMIT_HEADER,
    ConcurrencyGate,
    EmulatorStats,
    RateWindow,
    StatsRecorder,
)
from local.zuora_emulator.store import TenantStore
from local.zuora_emulator.tenant import Tenant, load_tenant
from local.zuora_emulator.tokens import TokenIssuer
from local.zuora_emulator.wire import (
    INTERNAL_ERROR,
    OVER_CONCURRENCY_LIMIT,
    Reply,
    Request,
    error_envelope,
    json_reply,
    unauthorized_reply,
)

logger = logging.getLogger("local.zuora_emulator")

ADMIN_PREFIX = "/_emulator/"
ZUORA_DEFAULT_CONCURRENCY_LIMIT = 40  # reported in headers when the emulator enforces no limit


@dataclass(frozen=True)
class _Route:
    method: str
    path: str  # a regular expression over the whole path; named groups become handler arguments
    name: str  # the route name in EmulatorStats.by_route
    handler: Callable[..., Reply]  # a ZuoraApi method
    # /v1 and /object-query calls count against the concurrency limit and get latency and limit headers.
    metered: bool = True
    needs_token: bool = True


_ROUTES = (
    _Route("POST", r"/oauth/token", "token", ZuoraApi.issue_token, metered=False, needs_token=False),
    _Route("GET", r"/object-query/accounts", "query_accounts", ZuoraApi.query_accounts),
    _Route("GET", r"/v1/accounts/(?P<key>[^/]+)", "get_account", ZuoraApi.get_account),
    _Route("GET", r"/v1/subscriptions/accounts/(?P<key>[^/]+)", "list_subscriptions", ZuoraApi.list_subscriptions),
    _Route("GET", r"/v1/subscriptions/(?P<key>[^/]+)", "get_subscription", ZuoraApi.get_subscription),
    _Route("POST", r"/v1/subscriptions/(?P<key>[^/]+)/preview", "preview_subscription", ZuoraApi.preview_subscription),
    _Route("POST", r"/v1/operations/billing-preview", "billing_preview", ZuoraApi.billing_preview),
)


def _resolve(method: str, path: str) -> tuple[_Route | None, dict[str, str]]:
    for route in _ROUTES:
        match = re.fullmatch(route.path, path)
        if match and route.method == method:
            return route, match.groupdict()
    return None, {}


class ZuoraEmulator:
    """A Zuora REST API on a local port, serving one tenant. See docs/zuora-emulator.md."""

    def __init__(
        self,
        tenant: str | Path | Mapping[str, Any] | Tenant,
        *,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], dt.date] = dt.date.today,
    ):
        self._tenant = load_tenant(tenant)
        settings = self._tenant.settings
        self._today = today
        self._store = TenantStore(self._tenant.accounts, self._tenant.subscriptions)
        self._tokens = TokenIssuer(settings.tokenTtlSeconds, clock)
        self._faults = FaultBook(self._tenant.faults)
        self._triggers = TriggerBook(self._tenant.triggers)
        self._stats = StatsRecorder()
        self._gate = ConcurrencyGate()
        self._rate_window = RateWindow(clock)
        self._random = SharedRandom(settings.seed)
        self._api = ZuoraApi(
            store=self._store,
            tokens=self._tokens,
            credentials=self._tenant.credentials,
            settings=settings,
            randomness=self._random,
            faults=self._faults,
            today=today,
        )
        self._latency_ms, self._latency_jitter_ms = settings.latencyMs, settings.latencyJitterMs
        self._concurrency_limit = settings.concurrencyLimit
        self._retry_after_seconds = settings.retryAfterSeconds
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; port 0 picks a free port. Returns the base URL."""
        if self._server is not None:
            raise RuntimeError(f"the Zuora emulator is already serving at {self.base_url}")
        server = _Server((host, port), self)
        # stop() waits up to one poll interval; keep it short so test fixtures tear down quickly.
        serve = functools.partial(server.serve_forever, poll_interval=0.01)
        self._thread = threading.Thread(target=serve, name="zuora-emulator", daemon=True)
        self._server = server
        self._thread.start()
        logger.info("Zuora emulator serving at %s", self.base_url)
        return self.base_url

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.shutdown()
        server.close_open_connections()
        server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> ZuoraEmulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Zuora emulator is not started")
        host, port = self._server.server_address[:2]
        reachable_host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        return f"http://{reachable_host}:{port}"

    @property
    def client_id(self) -> str:
        return self._tenant.credentials.clientId

    @property
    def client_secret(self) -> str:
        return self._tenant.credentials.clientSecret

    # Observation

    @property
    def stats(self) -> EmulatorStats:
        return self._stats.snapshot(peak_in_flight=self._gate.peak)

    def reset_stats(self) -> None:
        self._stats.reset()
        self._gate.reset_peak()

    # Behaviour

    def add_fault(self, rule: FaultRule | Mapping[str, Any]) -> FaultRule:
        """Arm a rule shaped like the tenant file's `faults` entries (checked; a bad rule raises ValueError)."""
        return self._faults.add(rule)

    def clear_faults(self) -> None:
        """Disarm every rule, including those from the tenant file."""
        self._faults.clear()

    def add_trigger(self, trigger: ChangeTrigger | Mapping[str, Any]) -> ChangeTrigger:
        """Arm a change to make after the Nth matching request is answered (shaped like the tenant's `triggers`).

        A bad rule or body raises ValueError; so does a subscription Zuora does not know (yet).
        """
        checked = trigger if isinstance(trigger, ChangeTrigger) else ChangeTrigger.model_validate(trigger)
        if self._store.subscription(checked.then.subscription) is None:
            raise ValueError(f"the trigger changes {checked.then.subscription}, which is not in the tenant")
        return self._triggers.add(checked)

    def clear_triggers(self) -> None:
        self._triggers.clear()

    def set_latency(self, ms: float, jitter_ms: float = 0) -> None:
        if ms < 0 or jitter_ms < 0:
            raise ValueError("latency and jitter must not be negative")
        self._latency_ms, self._latency_jitter_ms = ms, jitter_ms

    def set_concurrency_limit(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ValueError("the concurrency limit must be at least 1 (or None for no limit)")
        self._concurrency_limit = limit

    def set_features(self, **features: Any) -> dict[str, Any]:
        """Turn tenant features (`multipleCurrencies`, `invoiceSettlement`, `taxRates`) on or off from now on, as
        a Zuora admin changes a tenant's settings: no subscription gets a new version. Returns the features."""
        return self._api.set_features(features)

    @property
    def issued_tokens(self) -> tuple[str, ...]:
        """Every access token /oauth/token has issued, so tests can check none of them leaks."""
        return self._tokens.issued()

    def revoke_tokens(self) -> None:
        """Every token issued so far stops working, as if it expired mid-sync."""
        self._tokens.revoke_all()

    # Zuora-side data changes (each stores a new version: new id, version + 1, revision + 1.0)

    def subscription(self, key: str) -> dict[str, Any] | None:
        """The stored latest version (by number or id), without shuffling; None when Zuora does not know it."""
        return self._store.subscription(key)

    def upsert_subscription(self, subscription: Mapping[str, Any]) -> dict[str, Any]:
        return self._store.upsert_subscription(subscription)

    def update_subscription(self, number: str, **changes: Any) -> dict[str, Any]:
        return self._store.update_subscription(number, changes)

    def remove_subscription(self, number: str) -> None:
        self._store.remove_subscription(number)

    def move_subscription(self, number: str, to_account_number: str) -> dict[str, Any]:
        return self._store.move_subscription(number, to_account_number)

    # Zuora-side changes as Zuora makes them (docs/zuora-emulator.md "Changing Zuora"); each returns the new
    # version (contacts on the account: the account). Bad bodies raise AdminError, unknown numbers KeyError.

    def change(self, number: str, action: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._store.apply_change(number, action, body, today=self._today())

    def renew(self, number: str) -> dict[str, Any]:
        return self.change(number, "renew")

    def amend(self, number: str, **body: Any) -> dict[str, Any]:
        """`chargeNumber=` with `price=`/`quantity=`, or `addRatePlan=`, or `removeRatePlan=`; `effectiveDate=` (default today)."""
        return self.change(number, "amend", body)

    def cancel(self, number: str, **body: Any) -> dict[str, Any]:
        return self.change(number, "cancel", body)

    def suspend(self, number: str, **body: Any) -> dict[str, Any]:
        return self.change(number, "suspend", body)

    def resume(self, number: str, **body: Any) -> dict[str, Any]:
        return self.change(number, "resume", body)

    def transfer_owner(self, number: str, account_number: str) -> dict[str, Any]:
        return self.change(number, "transfer-owner", {"accountNumber": account_number})

    def transfer_invoice_owner(self, number: str, account_number: str) -> dict[str, Any]:
        return self.change(number, "transfer-invoice-owner", {"accountNumber": account_number})

    def change_contacts(self, number: str, **body: Any) -> dict[str, Any]:
        return self.change(number, "contacts", body)

    # Request pipeline: faults → authentication → endpoint; /v1 and /object-query first pass the
    # concurrency limit and the latency.

    def handle(self, request: Request) -> Reply:
        """Answers one parsed request (called by the HTTP handler threads)."""
        if request.path.startswith(ADMIN_PREFIX):
            return self._admin(request)
        route, path_params = _resolve(request.method, request.path)
        self._stats.record_request(request.method, route.name if route else "unmatched")
        try:
            if route is not None and route.metered:
                reply = self._handle_metered(request, route, path_params)
            else:
                reply = self._with_faults(request, lambda: self._answer(request, route, path_params))
        except Exception:
            logger.exception("Zuora emulator failed on %s %s", request.method, request.path)
            reply = json_reply(500, error_envelope(INTERNAL_ERROR, "An internal error occurred.", request.request_id))
        self._stats.record_status(reply.status)
        reply.headers = {**self._correlation_headers(request), **reply.headers}
        # The answer is computed: a change armed for "after this request" is seen by the next one.
        for step in self._triggers.observe(request):
            try:
                self.change(step.subscription, step.action, step.body)
            except (AdminError, KeyError):
                logger.exception("Zuora emulator trigger could not %s %s", step.action, step.subscription)
        return reply

    # The admin endpoint: not Zuora's, so no token, no limits, no faults and not counted in the stats.

    def _admin(self, request: Request) -> Reply:
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return json_reply(400, {"message": "The body must be JSON."})
        try:
            match = re.fullmatch(ADMIN_PREFIX + r"subscriptions/(?P<number>[^/]+)/(?P<action>[a-z-]+)", request.path)
            if match and request.method == "POST":
                return json_reply(200, self.change(match["number"], match["action"], body))
            if request.path == ADMIN_PREFIX + "features" and request.method == "POST":
                return json_reply(200, self.set_features(**body))
            if request.path == ADMIN_PREFIX + "faults" and request.method in ("POST", "DELETE"):
                if request.method == "DELETE":
                    self.clear_faults()
                    return json_reply(200, {"cleared": True})
                return json_reply(201, self.add_fault(body).model_dump(exclude_defaults=True))
            if request.path == ADMIN_PREFIX + "triggers" and request.method in ("POST", "DELETE"):
                if request.method == "DELETE":
                    self.clear_triggers()
                    return json_reply(200, {"cleared": True})
                return json_reply(201, self.add_trigger(body).model_dump(exclude_defaults=True))
        except KeyError as exc:
            return json_reply(404, {"message": str(exc.args[0]) if exc.args else "not found"})
        except ValidationError as exc:
            return json_reply(400, {"message": "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())})
        except (AdminError, ValueError) as exc:
            return json_reply(400, {"message": str(exc)})
        return json_reply(404, {"message": f"No emulator admin route for {request.method} {request.path}"})

    def _handle_metered(self, request: Request, route: _Route, path_params: dict[str, str]) -> Reply:
        limit = self._concurrency_limit
        in_flight = self._gate.try_enter(limit)
        if in_flight is None:
            return self._over_limit(request, limit)
        try:
            self._sleep_latency()
            reply = self._with_faults(request, lambda: self._answer(request, route, path_params))
        finally:
            self._gate.leave()
        reply.headers = {**self._limit_headers(limit, in_flight), **reply.headers}
        return reply

    def _with_faults(self, request: Request, produce: Callable[[], Reply]) -> Reply:
        rule = self._faults.take(request)
        if rule is None:
            return produce()
        if rule.delaySeconds:
            time.sleep(rule.delaySeconds)
        if rule.reshapes_the_answer:
            return reshape_reply(rule, produce(), request)
        imposed = fault_reply(rule, request.request_id)
        return produce() if imposed is None else imposed

    def _answer(self, request: Request, route: _Route | None, path_params: dict[str, str]) -> Reply:
        if route is None:
            return json_reply(404, {"message": f"No route matched {request.method} {request.path}"})
        if route.needs_token and not self._api.is_authorized(request):
            return unauthorized_reply()
        return route.handler(self._api, request, **path_params)

    def _over_limit(self, request: Request, limit: int) -> Reply:
        retry_after = self._retry_after_seconds
        message = (
            f"Your request was rejected because the number of concurrent requests exceeded the limit of {limit} "
            f"(Default). Please retry after {retry_after} second(s)."
        )
        reply = json_reply(429, error_envelope(OVER_CONCURRENCY_LIMIT, message, request.request_id))
        reply.headers.update(self._limit_headers(limit, in_flight=limit))
        reply.headers["Retry-After"] = str(retry_after)
        return reply

    def _sleep_latency(self) -> None:
        jitter = self._random.uniform(0, self._latency_jitter_ms) if self._latency_jitter_ms else 0
        delay_seconds = (self._latency_ms + jitter) / 1000
        if delay_seconds > 0:
            time.sleep(delay_seconds)

    def _limit_headers(self, limit: int | None, in_flight: int) -> dict[str, str]:
        reported_limit = limit or ZUORA_DEFAULT_CONCURRENCY_LIMIT
        rate_remaining, rate_reset = self._rate_window.hit()
        return {
            "Concurrency-Limit-Type": "Default",
            "Concurrency-Limit-Limit": str(reported_limit),
            "Concurrency-Limit-Remaining": str(max(0, reported_limit - in_flight)),
            "RateLimit-Limit": RATE_LIMIT_HEADER,
            "RateLimit-Remaining": str(rate_remaining),
            "RateLimit-Reset": str(rate_reset),
        }

    @staticmethod
    def _correlation_headers(request: Request) -> dict[str, str]:
        headers = {"Zuora-Request-Id": request.request_id}
        track_id = request.header("Zuora-Track-Id")
        if track_id:
            headers["Zuora-Track-Id"] = track_id
        return headers


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping (latency, delay faults) must not keep the process alive

    def __init__(self, address: tuple[str, int], emulator: ZuoraEmulator):
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """Drop kept-alive connections so a stopped emulator really stops answering."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or drop the connection leave broken pipes behind; that is not an emulator bug.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API behind its load balancer
    server_version = "ZuoraEmulator"
    timeout = 60  # idle kept-alive connections are closed after this many seconds
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes; without NODELAY, Nagle + delayed ACK add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (signature of the base class)
        logger.info("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        reply = self.server.emulator.handle(self._read_request())
        if reply.reset:
            self._reset_connection()
        else:
            self._send(reply)

    def _read_request(self) -> Request:
        target = urlsplit(self.path)
        length = self._content_length()
        return Request(
            method=self.command,
            path=unquote(target.path),
            raw_path=target.path,
            query=parse_qs(target.query, keep_blank_values=True),
            headers=self.headers,
            body=self.rfile.read(length) if length else b"",
            request_id=str(uuid.uuid4()),
        )

    def _content_length(self) -> int:
        try:
            return max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            return 0

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _reset_connection(self) -> None:
        # Linger 0 makes close() send a TCP RST: the client sees "connection reset", not a clean close.
        self.close_connection = True
        self.log_message('"%s" reset by fault', self.requestline)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
