"""AWS Signature Version 4 on the local API, checked the way API Gateway's AWS_IAM authorization checks it.

`SigV4Verifier` is the `authorizer` hook of `LocalApiGateway`: it recomputes the signature of each request
(method, path, query, the headers the caller signed, the SHA-256 of the body) with botocore's signer against a
table of local credentials, checks the credential scope (date, region, `execute-api`), that `X-Amz-Date` is
within five minutes of now, and `X-Amz-Security-Token` when there is one; then, for a caller given an identity
policy, it evaluates that policy with moto's IAM policy evaluation for `execute-api:Invoke` on the route's ARN (an
explicit Allow and no Deny, as IAM decides). `SigV4RequestAuth` signs `requests` calls with botocore, as LFS's Named
Credential does on Salesforce.

Refusals are API Gateway's: 403 "Missing Authentication Token" when nothing is signed, 403 when the signature
is wrong, unknown, expired or from another scope, 403 "... is not authorized to perform: execute-api:Invoke ..."
when the policy does not allow the route. They never say what the right signature would have been.
Everything but the signature itself (which covers the body) is checked from the headers first (`check_headers`),
before the gateway reads the body. An accepted request carries the caller's identity as API Gateway puts it in
`requestContext.identity` for an IAM user: its ARN, principal id, account and access key id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from moto.iam.access_control import IAMPolicy, PermissionResult

from limio_sync_cli.signing import SigV4RequestsAuth
from local.api_gateway import ApiRequest, ApiResponse
from local.sam_template import DEFAULT_ACCOUNT_ID, DEFAULT_REGION

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)
ACCESS_KEY_ENV = "LOCAL_API_ACCESS_KEY_ID"
SECRET_KEY_ENV = "LOCAL_API_SECRET_ACCESS_KEY"  # noqa: S105 - the name of a variable, not a secret

_AUTHORIZATION = re.compile(r"^(?P<algorithm>\S+)\s+(?P<parameters>.+)$")
_ACCESS_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass(frozen=True)
class ApiCredentials:
    """One caller allowed to invoke the local API (on AWS: an IAM user or role with execute-api:Invoke)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    region: str = DEFAULT_REGION
    user_name: str = "lfs-integration"  # the IAM user these keys belong to (its ARN is the caller's identity)
    # The caller's identity policy (an IAM policy document), evaluated with moto's IAM policy evaluation for
    # execute-api:Invoke on the route's ARN as API Gateway's AWS_IAM authorization does. None: allowed everything.
    policy: Mapping[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def generate(cls, region: str = DEFAULT_REGION) -> ApiCredentials:
        """Fresh credentials for one run: shaped like an IAM access key, random every time."""
        suffix = "".join(secrets.choice(_ACCESS_KEY_ALPHABET) for _ in range(11))
        return cls(access_key_id=f"AKIALOCAL{suffix}", secret_access_key=secrets.token_urlsafe(30), region=region)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, region: str = DEFAULT_REGION) -> ApiCredentials | None:
        """The credentials in LOCAL_API_ACCESS_KEY_ID / LOCAL_API_SECRET_ACCESS_KEY, or None when neither is set."""
        env = os.environ if environ is None else environ
        access_key, secret = env.get(ACCESS_KEY_ENV), env.get(SECRET_KEY_ENV)
        if not access_key and not secret:
            return None
        if not access_key or not secret:
            raise ValueError(f"Set both {ACCESS_KEY_ENV} and {SECRET_KEY_ENV}, or neither")
        return cls(access_key_id=access_key, secret_access_key=secret, region=region)

    def botocore(self) -> Credentials:
        return Credentials(self.access_key_id, self.secret_access_key, self.session_token)

    def identity(self, account_id: str) -> dict[str, str]:
        """`requestContext.identity` of a request this IAM user signed: API Gateway sets caller and user to the
        principal id (an IAM user's unique id starts AIDA), userArn to the user's ARN
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html#context-variable-reference)."""
        principal_id = "AIDA" + hashlib.sha256(self.access_key_id.encode()).hexdigest()[:17].upper()
        return {
            "accountId": account_id,
            "caller": principal_id,
            "user": principal_id,
            "userArn": f"arn:aws:iam::{account_id}:user/{self.user_name}",
            "accessKey": self.access_key_id,
        }


# `make serve`'s credentials unless LOCAL_API_ACCESS_KEY_ID / LOCAL_API_SECRET_ACCESS_KEY say otherwise: fixed and
# documented (README) so its commands can be copied as written. They open nothing but the local server.
LOCAL_SERVE_CREDENTIALS = ApiCredentials(access_key_id="AKIALOCALSERVE000001", secret_access_key="local-serve-secret-not-for-aws")  # noqa: S106


class SigV4RequestAuth(SigV4RequestsAuth):
    """Signs a `requests` call for API Gateway (`execute-api`) with local credentials, as the operator CLI signs
    with the AWS credential chain's."""

    def __init__(self, credentials: ApiCredentials):
        super().__init__(credentials.botocore(), credentials.region)


class AuthenticationRefused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message

    def response(self) -> ApiResponse:
        return ApiResponse.error(403, self.code, self.message)


def _invalid(message: str) -> AuthenticationRefused:
    return AuthenticationRefused("INVALID_SIGNATURE", message)


_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
)
_UNKNOWN_KEY = "The security token included in the request is invalid."


@dataclass(frozen=True)
class _Authorization:
    access_key_id: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


class SigV4Verifier:
    """The `authorizer` hook of `LocalApiGateway`: None lets the request through, a 403 refuses it."""

    def __init__(
        self,
        credentials: Iterable[ApiCredentials],
        *,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        max_clock_skew: dt.timedelta = MAX_CLOCK_SKEW,
        service: str = SERVICE,
        api_arn: str = f"arn:aws:execute-api:{DEFAULT_REGION}:{DEFAULT_ACCOUNT_ID}:local",
    ):
        self._credentials = {c.access_key_id: c for c in credentials}
        self._region = region
        self._account_id = account_id
        self._service = service
        self._api_arn = api_arn
        self._clock = clock
        self._max_clock_skew = max_clock_skew

    def __call__(self, request: ApiRequest) -> ApiResponse | dict:
        """The caller's identity (for requestContext.identity), or the 403 that refuses the request."""
        try:
            credentials = self.verify(request)
            self.authorize(credentials, request)
            return credentials.identity(self._account_id)
        except AuthenticationRefused as refusal:
            return refusal.response()

    def check_headers(self, request: ApiRequest) -> ApiResponse | None:
        """Before the body is read: refuse what the headers alone show is not signed by a known, current key."""
        try:
            self._verify_headers(request)
        except AuthenticationRefused as refusal:
            return refusal.response()
        return None

    def route_arn(self, request: ApiRequest) -> str:
        """arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path>, the resource an identity policy names
        (API Gateway developer guide, "Control access for invoking an API")."""
        stage = request.route.stage
        return f"{self._api_arn}/{stage}/{request.method}{request.path.removeprefix(f'/{stage}')}"

    def authorize(self, credentials: ApiCredentials, request: ApiRequest) -> None:
        """An explicit Allow of execute-api:Invoke on the route and no Deny, or 403 with API Gateway's message."""
        if credentials.policy is None:
            return
        resource = self.route_arn(request)
        if IAMPolicy(json.dumps(credentials.policy)).is_action_permitted("execute-api:Invoke", resource) is not PermissionResult.PERMITTED:
            raise AuthenticationRefused(
                "ACCESS_DENIED", f"User: {credentials.access_key_id} is not authorized to perform: execute-api:Invoke on resource: {resource}"
            )

    def verify(self, request: ApiRequest) -> ApiCredentials:
        """The caller's credentials, or `AuthenticationRefused`."""
        credentials, authorization, amz_date = self._verify_headers(request)
        self._check_content_hash(request)
        expected = _signature(request, credentials, authorization, amz_date)
        if not _same(expected, authorization.signature.lower()):
            raise _invalid(_SIGNATURE_MISMATCH)
        return credentials

    def _verify_headers(self, request: ApiRequest) -> tuple[ApiCredentials, _Authorization, str]:
        header = request.header("Authorization")
        if not header:
            raise AuthenticationRefused("MISSING_AUTHENTICATION", "Missing Authentication Token")
        authorization = self._parse(header)
        credentials = self._credentials.get(authorization.access_key_id)
        if credentials is None:
            raise _invalid(_UNKNOWN_KEY)
        amz_date = self._check_date(request, authorization)
        self._check_session_token(request, credentials)
        return credentials, authorization, amz_date

    def _parse(self, header: str) -> _Authorization:
        match = _AUTHORIZATION.match(header.strip())
        if not match or match["algorithm"] != ALGORITHM:
            raise _invalid(f"Only {ALGORITHM} (AWS Signature Version 4) signatures are accepted.")
        parameters = dict(_key_value(part) for part in match["parameters"].split(","))
        missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not parameters.get(name)]
        if missing:
            raise _invalid(f"Authorization header requires {', '.join(repr(name) for name in missing)} parameter(s).")
        scope = parameters["Credential"].split("/")
        if len(scope) != 5:
            raise _invalid("The Credential must be <access key id>/<date>/<region>/<service>/aws4_request.")
        access_key_id, scope_date, region, service, terminator = scope
        if service != self._service or region != self._region or terminator != "aws4_request":
            raise _invalid(
                f"Credential should be scoped to a valid region and service: "
                f"<date>/{self._region}/{self._service}/aws4_request, not {scope_date}/{region}/{service}/{terminator}."
            )
        signed_headers = tuple(parameters["SignedHeaders"].lower().split(";"))
        for required in ("host", "x-amz-date"):
            if required not in signed_headers:
                raise _invalid(f"The {required} header must be signed.")
        return _Authorization(access_key_id, scope_date, region, service, signed_headers, parameters["Signature"])

    def _check_date(self, request: ApiRequest, authorization: _Authorization) -> str:
        amz_date = request.header("X-Amz-Date") or ""
        try:
            signed_at = dt.datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=dt.UTC)
        except ValueError:
            raise _invalid(f"X-Amz-Date must be a timestamp like 20260101T120000Z, not {amz_date[:32]!r}.") from None
        if authorization.scope_date != amz_date[:8]:
            raise _invalid("The date of the Credential scope does not match X-Amz-Date.")
        now = self._clock()
        if signed_at < now - self._max_clock_skew:
            earliest = (now - self._max_clock_skew).strftime(SIGV4_TIMESTAMP)
            raise _invalid(f"Signature expired: {amz_date} is now earlier than {earliest} (5 minutes ago).")
        if signed_at > now + self._max_clock_skew:
            latest = (now + self._max_clock_skew).strftime(SIGV4_TIMESTAMP)
            raise _invalid(f"Signature not yet current: {amz_date} is still later than {latest} (5 minutes from now).")
        return amz_date

    @staticmethod
    def _check_session_token(request: ApiRequest, credentials: ApiCredentials) -> None:
        token = request.header("X-Amz-Security-Token")
        if token is None and credentials.session_token is None:
            return
        if token is None or credentials.session_token is None or not _same(token, credentials.session_token):
            raise _invalid(_UNKNOWN_KEY)

    @staticmethod
    def _check_content_hash(request: ApiRequest) -> None:
        """The body is always hashed here; a declared hash must be the body's (no UNSIGNED-PAYLOAD)."""
        declared = request.header("X-Amz-Content-SHA256")
        if declared is not None and declared.lower() != hashlib.sha256(request.body).hexdigest():
            raise _invalid("X-Amz-Content-SHA256 does not match the request body.")


class _ReceivedRequestSigner(SigV4Auth):
    """botocore's SigV4 over exactly the headers the caller says it signed."""

    def __init__(self, credentials: Credentials, service: str, region: str, signed_headers: HTTPHeaders):
        super().__init__(credentials, service, region)
        self._signed_headers = signed_headers

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return self._signed_headers


def _signature(request: ApiRequest, credentials: ApiCredentials, authorization: _Authorization, amz_date: str) -> str:
    signed_headers = HTTPHeaders()
    for name in authorization.signed_headers:
        values = [value for key, value in request.headers if key.lower() == name]
        if not values:
            raise _invalid(f"The signed header {name} is not in the request.")
        for value in values:
            signed_headers[name] = value
    received = AWSRequest(
        method=request.method,
        # Only the path of this URL counts, as sent (still encoded); the Host that was signed is a signed header.
        url=f"http://local.invalid{request.raw_path}",
        data=request.body,
        params=request.query,
    )
    received.context["timestamp"] = amz_date
    signer = _ReceivedRequestSigner(credentials.botocore(), authorization.service, authorization.region, signed_headers)
    return signer.signature(signer.string_to_sign(received, signer.canonical_request(received)), received)


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also accepts non-ASCII input (header values arrive as latin-1)."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def _key_value(part: str) -> tuple[str, str]:
    key, _, value = part.strip().partition("=")
    return key.strip(), value.strip()
