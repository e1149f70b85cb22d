"""`make serve`: the local stack as a long-running server that any HTTP client can drive.

Like API Gateway with AWS_IAM, the API answers only requests signed with AWS Signature Version 4. Unless
LOCAL_API_ACCESS_KEY_ID / LOCAL_API_SECRET_ACCESS_KEY say otherwise, the credentials are fixed and documented
(`local.auth.LOCAL_SERVE_CREDENTIALS`, in the README), so the README's commands run as written. It prints the
`export` lines that point curl and `limio-sync` at it. Beside the API, the port after it serves Lambda's Invoke
API (`POST /2015-03-31/functions/{name}/invocations`, signed for `lambda`) for the stack's functions, which is
where `limio-sync replay-dead-letters` reaches RetryFailedSyncsFunction (AWS_ENDPOINT_URL_LAMBDA).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from local.api_gateway import ApiRequest
from local.auth import LOCAL_SERVE_CREDENTIALS, SERVICE, ApiCredentials, AuthenticationRefused, SigV4Verifier
from local.cloud import LambdaInvocationError
from local.logs import default_log_file, send_logs_to_file
from local.service import DEMO_TENANT, LocalSyncService

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--tenant", type=Path, default=Path(os.environ.get("ZUORA_TENANT", DEMO_TENANT)))
    parser.add_argument("--no-signature", action="store_true", help="accept unsigned requests (API Gateway with AWS_IAM never does)")
    parser.add_argument("--log-file", type=Path, help="where the functions' structured logs go (default: a new file under .logs/)")
    parser.add_argument("--verbose", action="store_true", help="also show the structured logs (on stderr)")
    args = parser.parse_args(argv)

    log_file = send_logs_to_file(args.log_file or default_log_file("serve"), verbose=args.verbose)
    credentials = ApiCredentials.from_environment() or LOCAL_SERVE_CREDENTIALS
    service = LocalSyncService(
        args.tenant,
        host=args.host,
        port=args.port,
        require_signature=not args.no_signature,
        credentials=credentials,
        run_schedules=True,
        parameter_overrides={"LogLevel": "INFO"},
    )
    with service:
        functions = LocalLambdaEndpoint(service, host=args.host, port=args.port + 1 if args.port else 0)
        functions.start()
        print(f"API base URL: {service.api_url}", flush=True)
        print(f"Zuora emulator: {service.emulator.base_url} (tenant {args.tenant})", flush=True)
        print(f"Structured logs: {log_file}", flush=True)
        print(how_to_call(service, functions.url), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("Stopping.")
        finally:
            functions.stop()


def how_to_call(service: LocalSyncService, lambda_url: str) -> str:
    credentials = service.credentials
    retry_function = service.cloud.function_names["RetryFailedSyncsFunction"] if service.cloud else ""
    exports = (
        f"export LIMIO_SYNC_API_URL={service.api_url} AWS_REGION={credentials.region}\n"
        f"export AWS_ACCESS_KEY_ID={credentials.access_key_id} AWS_SECRET_ACCESS_KEY={credentials.secret_access_key}\n"
        f"export AWS_ENDPOINT_URL_LAMBDA={lambda_url} LIMIO_SYNC_RETRY_FUNCTION={retry_function}"
    )
    if service.require_signature:
        how = f"Requests must be signed with AWS Signature Version 4 (service {SERVICE}, region {credentials.region}), as API Gateway requires."
        curl = f'curl -s --aws-sigv4 "aws:amz:{credentials.region}:{SERVICE}" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"'
    else:
        how, curl = "Requests need no signature (--no-signature).", "curl -s"
    body = '\'{"zuoraAccountNumber": "A00001001"}\''
    return (
        f"{how}\nFor curl and limio-sync, in your shell:\n{exports}\nThen:\n"
        f"  {curl} -X POST {service.api_url}/syncs -H 'Content-Type: application/json' -d {body}\n"
        f"  .venv/bin/limio-sync start --zuora-account-number A00001001\nCtrl-C stops."
    )


class LocalLambdaEndpoint:
    """Lambda's Invoke API (RequestResponse) for the local stack's functions, SigV4-checked for service `lambda`."""

    def __init__(self, service: LocalSyncService, *, host: str = "127.0.0.1", port: int = 0):
        assert service.cloud is not None
        self.service = service
        self.verifier = SigV4Verifier([service.credentials], region=service.cloud.region, service="lambda") if service.require_signature else None
        handler = type("LambdaInvokeHandler", (_InvokeHandler,), {"endpoint": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="local-lambda-invoke", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def invoke(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, dict[str, str], bytes]:
        split = urlsplit(target)
        found = INVOKE_PATH.match(split.path)
        if method != "POST" or not found:
            return _lambda_error(404, "UnknownOperationException", f"Only Invoke is served here, not {method} {split.path}")
        if self.verifier is not None:
            request = ApiRequest(method, unquote(split.path), headers, parse_qsl(split.query), body, None, {}, "127.0.0.1", split.path)  # type: ignore[arg-type]
            try:
                self.verifier.verify(request)
            except AuthenticationRefused as refusal:
                return _lambda_error(403, "InvalidSignatureException", refusal.message)
        name = unquote(found["name"])
        assert self.service.cloud is not None
        try:
            result = self.service.cloud.invoke(name, json.loads(body or b"{}"))
        except KeyError:
            return _lambda_error(404, "ResourceNotFoundException", f"Function not found: {name}")
        except LambdaInvocationError as error:
            return 200, {"X-Amz-Function-Error": "Unhandled"}, json.dumps(error.payload).encode()
        return 200, {}, json.dumps(result).encode()


def _lambda_error(status: int, error_type: str, message: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"x-amzn-ErrorType": error_type}, json.dumps({"Type": "User", "message": message}).encode()


class _InvokeHandler(BaseHTTPRequestHandler):
    endpoint: LocalLambdaEndpoint
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    def do_GET(self) -> None:  # noqa: N802 - answered with UnknownOperationException
        self._serve()

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, headers, reply = self.endpoint.invoke(self.command, self.path, list(self.headers.items()), body)
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(reply)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        pass


if __name__ == "__main__":
    main()
