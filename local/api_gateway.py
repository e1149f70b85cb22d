"""The template's REST API on localhost: HTTP requests become API Gateway proxy events for the real handlers.

Each request is matched against the template's routes (the stage prefix, e.g. `/v1`, is required as on API
Gateway), turned into a REST API (payload format 1.0) proxy event, run through `LocalCloud.invoke`, and the
handler's proxy response is written back. Errors API Gateway would produce come back as JSON:
400 (a Content-Length that is not a non-negative integer), 404 (no route), 405 (known path, other method),
413 (body too large), 502 (the handler crashed or replied with something that is not a proxy response).

An authorizer with a `check_headers` method (SigV4Verifier) is asked before the body is read: an unsigned or
wrongly signed request is refused without reading a byte of its body, however large it says it is.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.cloud import LambdaInvocationError, LocalCloud
from local.sam_template import ApiRoute

LOG = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
# Bodies up to API Gateway's own limit are read (and then refused if too large) so the client sees the 413.
_READ_LIMIT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request as the authorizer hook sees it; `route` is the matched route. `path` is decoded;
    `raw_path` is the path as sent, still percent-encoded (what a SigV4 signature covers)."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    query: list[tuple[str, str]]
    body: bytes
    route: ApiRoute
    path_parameters: dict[str, str]
    source_ip: str
    raw_path: str = ""

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return values[-1] if values else None


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def error(cls, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None) -> ApiResponse:
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        return cls(status, body, [("Content-Type", "application/json"), *(headers or [])])


# None or a dict lets the request through (the dict: the caller's identity, for requestContext.identity); an
# ApiResponse refuses it.
Authorizer = Callable[[ApiRequest], ApiResponse | dict | None]
_CONTENT_LENGTH = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True)
class _CompiledRoute:
    route: ApiRoute
    pattern: re.Pattern[str]
    parameters: tuple[str, ...]
    specificity: tuple[int, int]


def _compile(route: ApiRoute) -> _CompiledRoute:
    parts, names, literals = [], [], 0
    segments = [segment for segment in route.path_template.split("/") if segment]
    for segment in segments:
        greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
        single = re.fullmatch(r"\{(\w+)\}", segment)
        if greedy:
            names.append(greedy.group(1))
            parts.append("(.+)")
        elif single:
            names.append(single.group(1))
            parts.append("([^/]+)")
        else:
            literals += 1
            parts.append(re.escape(segment))
    stage_prefix = "/" + re.escape(route.stage)
    pattern = re.compile(stage_prefix + ("/" + "/".join(parts) if parts else "/?"))
    greedy_count = sum(1 for segment in segments if segment.endswith("+}"))
    return _CompiledRoute(route, pattern, tuple(names), (literals, -greedy_count))


class LocalApiGateway:
    """Serve `cloud.template.api_routes` on `http://host:port/<stage>/...`."""

    def __init__(
        self,
        cloud: LocalCloud,
        host: str = "127.0.0.1",
        port: int = 3000,
        authorizer: Authorizer | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.cloud = cloud
        self.host = host
        self.port = port
        self.authorizer = authorizer
        self.max_body_bytes = max_body_bytes
        compiled = [_compile(route) for route in cloud.template.api_routes]
        # API Gateway prefers the most specific path: more literal segments first, greedy paths last.
        self._routes = sorted(compiled, key=lambda item: item.specificity, reverse=True)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._container_locks = defaultdict(threading.Lock)

    @property
    def stages(self) -> list[str]:
        return sorted({route.stage for route in self.cloud.template.api_routes})

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("The gateway is not started")
        stages = self.stages
        stage = f"/{stages[0]}" if len(stages) == 1 else ""
        return f"http://{self.host}:{self._server.server_address[1]}{stage}"

    def start(self) -> str:
        """Serve on a background thread; return the base URL including the stage (e.g. `/v1`)."""
        self._bind()
        assert self._server is not None
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-api-gateway", daemon=True)
        self._thread.start()
        return self.base_url

    def serve_forever(self) -> None:
        """Serve on this thread until interrupted."""
        self._bind()
        assert self._server is not None
        LOG.info("Local API Gateway on %s", self.base_url)
        try:
            self._server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        if self._server is None:
            return
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        self._server = None

    def __enter__(self) -> LocalApiGateway:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _bind(self) -> None:
        if self._server is not None:
            raise RuntimeError("The gateway is already started")
        handler = type("GatewayRequestHandler", (_RequestHandler,), {"gateway": self})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True

    # ------------------------------------------------------------------ request handling

    def handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str) -> ApiResponse:
        split = urlsplit(target)
        path = unquote(split.path)  # matched undecoded, so an encoded "/" stays inside its path parameter
        if len(body) > self.max_body_bytes:
            return ApiResponse.error(413, "PAYLOAD_TOO_LARGE", f"Request body of {len(body)} bytes exceeds {self.max_body_bytes} bytes")
        path_matches = [(compiled, compiled.pattern.fullmatch(split.path)) for compiled in self._routes]
        path_matches = [(compiled, match) for compiled, match in path_matches if match]
        if not path_matches:
            return ApiResponse.error(404, "ROUTE_NOT_FOUND", f"No route for {method} {path}")
        chosen = next(((compiled, match) for compiled, match in path_matches if compiled.route.method in (method, "ANY")), None)
        if chosen is None:
            allowed = ", ".join(sorted({compiled.route.method for compiled, _ in path_matches}))
            message = f"{method} is not allowed on {path}; allowed: {allowed}"
            return ApiResponse.error(405, "METHOD_NOT_ALLOWED", message, [("Allow", allowed)])
        compiled, match = chosen
        values = [unquote(value) for value in match.groups()]
        path_parameters = dict(zip(compiled.parameters, values, strict=True))
        query = parse_qsl(split.query, keep_blank_values=True)
        headers = self._forwarded_headers(headers, source_ip)
        request = ApiRequest(method, path, headers, query, body, compiled.route, path_parameters, source_ip, split.path)
        identity: dict = {}
        if self.authorizer is not None:
            outcome = self.authorizer(request)
            if isinstance(outcome, ApiResponse):
                return outcome
            identity = outcome or {}
        event = self._proxy_event(request, path[len(compiled.route.stage) + 1 :] or "/", identity)
        try:
            # One request at a time per API function, as one Lambda container serves them: Powertools' resolver
            # keeps the current event on a module-level object, which concurrent requests in one process would share.
            with self._container_locks[compiled.route.function]:
                result = self.cloud.invoke(compiled.route.function, event)
        except LambdaInvocationError as error:
            LOG.error("%s %s: %s\n%s", method, path, error, "".join(error.payload.get("stackTrace") or []))
            return ApiResponse.error(502, "INTERNAL_ERROR", "Internal server error")
        return self._proxy_response(result, method, path)

    def check_before_body(self, method: str, target: str, headers: list[tuple[str, str]], source_ip: str) -> ApiResponse | None:
        """What the authorizer can refuse from the request line and headers alone, before the body is read."""
        check_headers = getattr(self.authorizer, "check_headers", None)
        if check_headers is None:
            return None
        split = urlsplit(target)
        query = parse_qsl(split.query, keep_blank_values=True)
        request = ApiRequest(method, unquote(split.path), headers, query, b"", None, {}, source_ip, split.path)  # type: ignore[arg-type]
        return check_headers(request)

    def _forwarded_headers(self, headers: list[tuple[str, str]], source_ip: str) -> list[tuple[str, str]]:
        """Add the headers API Gateway adds; handlers build absolute URLs from X-Forwarded-Proto and Host."""
        added = {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id"}
        kept = [(key, value) for key, value in headers if key.lower() not in added]
        forwarded_for = [value for key, value in headers if key.lower() == "x-forwarded-for"]
        trace_id = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
        return [
            *kept,
            ("X-Forwarded-For", ", ".join([*forwarded_for, source_ip])),
            ("X-Forwarded-Port", str(self._server.server_address[1] if self._server else self.port)),
            ("X-Forwarded-Proto", "http"),
            ("X-Amzn-Trace-Id", trace_id),
        ]

    def _proxy_event(self, request: ApiRequest, resource_path: str, identity: dict | None = None) -> dict[str, Any]:
        route = request.route
        multi_headers: dict[str, list[str]] = {}
        for key, value in request.headers:
            multi_headers.setdefault(key, []).append(value)
        multi_query: dict[str, list[str]] = {}
        for key, value in request.query:
            multi_query.setdefault(key, []).append(value)
        try:
            body: str | None = request.body.decode("utf-8") if request.body else None
            is_base64 = False
        except UnicodeDecodeError:
            body, is_base64 = base64.b64encode(request.body).decode(), True
        now = datetime.now(UTC)
        request_id = str(uuid.uuid4())
        domain = f"{self.host}:{self._server.server_address[1] if self._server else self.port}"
        return {
            "resource": route.path_template,
            "path": resource_path,
            "httpMethod": request.method,
            "headers": {key: values[-1] for key, values in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {key: values[-1] for key, values in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": request.path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": route.api,
                "resourcePath": route.path_template,
                "httpMethod": request.method,
                "extendedRequestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "path": request.path,
                "accountId": self.cloud.template.account_id,
                "protocol": "HTTP/1.1",
                "stage": route.stage,
                "domainPrefix": self.host,
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "requestId": request_id,
                "identity": {
                    "cognitoIdentityPoolId": None,
                    "accountId": None,
                    "cognitoIdentityId": None,
                    "caller": None,
                    "sourceIp": request.source_ip,
                    "principalOrgId": None,
                    "accessKey": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "userArn": None,
                    "userAgent": request.header("User-Agent"),
                    "user": None,
                    "apiKey": None,
                    **(identity or {}),
                },
                "domainName": domain,
                "apiId": "local",
            },
            "body": body,
            "isBase64Encoded": is_base64,
        }

    @staticmethod
    def _proxy_response(result: Any, method: str, path: str) -> ApiResponse:
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            LOG.error("%s %s: malformed Lambda proxy response %r", method, path, result)
            return ApiResponse.error(502, "INTERNAL_ERROR", "Internal server error")
        merged: dict[str, list[str]] = {key: [str(value) for value in values] for key, values in (result.get("multiValueHeaders") or {}).items()}
        for key, value in (result.get("headers") or {}).items():
            # API Gateway merges both maps; a pair given in both appears once.
            if str(value) not in merged.setdefault(key, []):
                merged[key].append(str(value))
        body = result.get("body")
        if body is None:
            raw = b""
        elif result.get("isBase64Encoded"):
            raw = base64.b64decode(body)
        else:
            raw = str(body).encode()
        headers = [(key, value) for key, values in merged.items() for value in values]
        if not any(key.lower() == "content-type" for key, _ in headers):
            headers.append(("Content-Type", "application/json"))
        return ApiResponse(result["statusCode"], raw, headers)


class _RequestHandler(BaseHTTPRequestHandler):
    gateway: LocalApiGateway
    protocol_version = "HTTP/1.1"
    server_version = "LocalApiGateway"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET  # noqa: N815

    def _serve(self) -> None:
        started = time.monotonic()
        headers = list(self.headers.items())
        try:
            length = self._declared_length()  # framing first: without it, where the request ends is unknown
            refusal = self.gateway.check_before_body(self.command, self.path, headers, self.client_address[0])
            if refusal is not None:
                raise _BodyError(refusal)
            body = self._read_body(length)
        except _BodyError as error:  # the body is left unread: the connection cannot be reused
            self._send(error.response)
            self.close_connection = True
            return
        response = self.gateway.handle(self.command, self.path, headers, body, self.client_address[0])
        self._send(response)
        LOG.info("%s %s -> %s (%.0f ms)", self.command, self.path, response.status, (time.monotonic() - started) * 1000)

    def _declared_length(self) -> int | None:
        """The Content-Length, or None for a chunked body."""
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            return None
        declared = (self.headers.get("Content-Length") or "0").strip()
        if not _CONTENT_LENGTH.fullmatch(declared):  # int() would take "-1" and rfile.read(-1) would wait for the end of the stream
            raise _BodyError(ApiResponse.error(400, "BAD_REQUEST", f"Content-Length must be a non-negative integer, not {declared[:40]!r}"))
        return int(declared)

    def _read_body(self, length: int | None) -> bytes:
        if length is None:
            return self._read_chunked()
        if length > _READ_LIMIT_BYTES:
            raise _BodyError(ApiResponse.error(413, "PAYLOAD_TOO_LARGE", f"Request body of {length} bytes is too large"))
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks, total = [], 0
        while True:
            line = self.rfile.readline().split(b";")[0].strip() or b"0"
            if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", line):
                raise _BodyError(ApiResponse.error(400, "BAD_REQUEST", "A chunk size must be a hexadecimal number"))
            size = int(line, 16)
            if size == 0:
                while self.rfile.readline().strip():
                    pass
                return b"".join(chunks)
            total += size
            if total > _READ_LIMIT_BYTES:
                raise _BodyError(ApiResponse.error(413, "PAYLOAD_TOO_LARGE", "Request body is too large"))
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, response: ApiResponse) -> None:
        self.send_response(response.status)
        for key, value in response.headers:
            if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        LOG.debug(format, *args)


class _BodyError(Exception):
    def __init__(self, response: ApiResponse) -> None:
        self.response = response
