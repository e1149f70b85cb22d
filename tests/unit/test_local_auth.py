"""The local API's IAM check: a caller's identity policy is evaluated (moto's IAM policy evaluation) for
execute-api:Invoke on the route's ARN, after the SigV4 signature, as API Gateway's AWS_IAM authorization does."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import requests

from local.api_gateway import ApiRequest
from local.auth import ApiCredentials, SigV4RequestAuth, SigV4Verifier
from local.sam_template import ApiRoute

READER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:eu-west-2:*:*/v1/GET/*"},
        {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:eu-west-2:*:*/v1/GET/subscriptions*"},
    ],
}
READER = ApiCredentials("AKIALOCALREADER00001", "reader-secret", policy=READER_POLICY)
ANYONE = ApiCredentials("AKIALOCALANYONE00001", "anyone-secret")


def received(credentials: ApiCredentials, method: str, path: str, body: dict | None = None) -> ApiRequest:
    """The request as the local gateway hands it to its authorizer, signed as a client would sign it."""
    url = f"http://127.0.0.1:3000{path}"
    prepared = requests.Request(method, url, json=body, auth=SigV4RequestAuth(credentials)).prepare()
    headers = [("Host", urlsplit(url).netloc), *prepared.headers.items()]
    route = ApiRoute(method=method, path_template="/{proxy+}", function="ApiFunction", stage="v1", api="SyncApi")
    raw = prepared.body if isinstance(prepared.body, bytes) else (prepared.body or "").encode()
    return ApiRequest(method, path, headers, [], raw, route, {}, "127.0.0.1", path)


def refusal(credentials: ApiCredentials, method: str, path: str, body: dict | None = None) -> dict | None:
    """None when the request is let through (the verifier then answers the caller's identity), else the 403."""
    reply = SigV4Verifier([READER, ANYONE])(received(credentials, method, path, body))
    return None if isinstance(reply, dict) else {"status": reply.status, **json.loads(reply.body)["error"]}


def test_the_policy_allows_what_it_allows():
    assert refusal(READER, "GET", "/v1/syncs/sync-" + "1" * 32) is None


def test_an_action_the_policy_does_not_allow_is_refused_naming_the_route_arn():
    assert refusal(READER, "POST", "/v1/syncs", {"zuoraAccountNumber": "A00001001"}) == {
        "status": 403,
        "code": "ACCESS_DENIED",
        "message": "User: AKIALOCALREADER00001 is not authorized to perform: execute-api:Invoke on resource: "
        "arn:aws:execute-api:eu-west-2:123456789012:local/v1/POST/syncs",
    }


def test_an_explicit_deny_wins_over_an_allow():
    assert refusal(READER, "GET", "/v1/subscriptions")["code"] == "ACCESS_DENIED"


def test_a_caller_without_a_policy_is_only_checked_for_its_signature():
    assert refusal(ANYONE, "POST", "/v1/syncs", {"zuoraAccountNumber": "A00001001"}) is None
