"""The Zuora endpoints the sync's client uses, each with the zuora-sdk operation that describes it.

Sources: the SDK's API classes (`zuora_sdk/api/*_api.py`: path, parameters, `_response_types_map`) and the
developer.zuora.com operation pages named in `docs`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # the SDK's resource path; {key} stands for its single path parameter
    sdk_api: str  # the zuora-sdk API class
    sdk_method: str  # its method for this operation
    docs: str

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def matches(self, method: str, path: str) -> bool:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(self.path))
        return method == self.method and re.fullmatch(pattern, path) is not None


TOKEN = Endpoint("POST", "/oauth/token", "OAuthApi", "create_token", "https://developer.zuora.com/v1-api-reference/api/operation/createToken/")
QUERY_ACCOUNTS = Endpoint(
    "GET", "/object-query/accounts", "ObjectQueriesApi", "query_accounts", "https://developer.zuora.com/v1-api-reference/api/operation/queryAccounts/"
)
GET_ACCOUNT = Endpoint(
    "GET", "/v1/accounts/{key}", "AccountsApi", "get_account", "https://developer.zuora.com/v1-api-reference/api/operation/GET_Account/"
)
SUBSCRIPTIONS_BY_ACCOUNT = Endpoint(
    "GET",
    "/v1/subscriptions/accounts/{key}",
    "SubscriptionsApi",
    "get_subscriptions_by_account",
    "https://developer.zuora.com/v1-api-reference/api/operation/GET_SubscriptionsByAccount/",
)
SUBSCRIPTION_BY_KEY = Endpoint(
    "GET",
    "/v1/subscriptions/{key}",
    "SubscriptionsApi",
    "get_subscription_by_key",
    "https://developer.zuora.com/v1-api-reference/api/operation/GET_SubscriptionsByKey/",
)
BILLING_PREVIEW = Endpoint(
    "POST",
    "/v1/operations/billing-preview",
    "OperationsApi",
    "create_billing_preview",
    "https://developer.zuora.com/v1-api-reference/api/operation/POST_BillingPreview/",
)
PREVIEW_SUBSCRIPTION = Endpoint(
    "POST",
    "/v1/subscriptions/{key}/preview",
    "SubscriptionsApi",
    "preview_existing_subscription",
    "https://developer.zuora.com/v1-api-reference/api/operation/PreviewExistingSubscription/",
)

CLIENT_ENDPOINTS = (TOKEN, QUERY_ACCOUNTS, GET_ACCOUNT, SUBSCRIPTIONS_BY_ACCOUNT, SUBSCRIPTION_BY_KEY, BILLING_PREVIEW, PREVIEW_SUBSCRIPTION)


def endpoint_for(method: str, path: str) -> Endpoint:
    for endpoint in CLIENT_ENDPOINTS:
        if endpoint.matches(method, path):
            return endpoint
    raise LookupError(f"{method} {path} is no endpoint the contract suite knows: add it to tests/contract/endpoints.py")
