"""SigV4 for `requests`, with botocore's signer: how API Gateway's AWS_IAM authorization wants each call signed."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit, urlunsplit

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

EXECUTE_API = "execute-api"


class SigV4RequestsAuth(requests.auth.AuthBase):
    """Signs the method, path, query, Host, Content-Type, X-Amz-Date (and X-Amz-Security-Token) and the body."""

    def __init__(self, credentials: Credentials, region: str, service: str = EXECUTE_API):
        self.credentials, self.region, self.service = credentials, region, service

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        split = urlsplit(request.url or "")
        headers = {name: request.headers[name] for name in ("Content-Type",) if name in request.headers}
        signed = AWSRequest(
            method=request.method,
            url=urlunsplit((split.scheme, split.netloc, split.path, "", "")),
            headers=headers,
            data=_body_bytes(request.body),
            params=parse_qsl(split.query, keep_blank_values=True),
        )
        SigV4Auth(self.credentials, self.service, self.region).add_auth(signed)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in signed.headers:
                request.headers[name] = signed.headers[name]
        return request


def _body_bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes):
        return body
    raise TypeError("SigV4RequestsAuth signs bodies given as bytes or str, not streams")
