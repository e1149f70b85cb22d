"""Zuora-shaped fixtures (GET /v1/accounts/{key} and GET /v1/subscriptions/{key} shapes) for tenants built in tests."""

from __future__ import annotations

import hashlib

from limio_sync.validation import salesforce_checksum

CLIENT_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
CLIENT_SECRET = "test-client-secret-0123456789abcdef"


def salesforce_id(seed: str) -> str:
    """A valid 18-character Salesforce Account id."""
    id15 = ("001" + seed.upper().replace("-", "")[:12]).ljust(15, "0")[:15]
    return id15 + salesforce_checksum(id15)


def zuora_id(*parts: str) -> str:
    return hashlib.md5("/".join(parts).encode()).hexdigest()  # noqa: S324 - a fixture id, not security


def contact(first: str, last: str, email: str) -> dict:
    return {
        "id": zuora_id("contact", email),
        "firstName": first,
        "lastName": last,
        "workEmail": email,
        "personalEmail": "",
        "mobilePhone": None,
        "address1": "1 Example Street",
        "address2": "",
        "city": "London",
        "state": None,
        "county": "",
        "zipCode": "EC1A 1AA",
        "country": "United Kingdom",
    }


def account(number: str, crm_id: str | None, name: str = "Northwind Media") -> dict:
    person = contact("Jane", "Doe", f"{number.lower()}@example.com")
    return {
        "basicInfo": {"id": zuora_id("account", number), "name": name, "accountNumber": number, "status": "Active", "crmId": crm_id or ""},
        "billingAndPayment": {"billCycleDay": 1, "currency": "GBP", "paymentTerm": "Net 30", "autoPay": True},
        "billToContact": person,
        "soldToContact": person,
    }


def subscription(
    number: str,
    account_number: str,
    *,
    status: str = "Active",
    version: int = 1,
    term_start: str = "2026-03-01",
    term_end: str | None = "2027-03-01",
    auto_renew: bool = True,
    broken: bool = False,
    updated: str = "2026-11-01",
) -> dict:
    record = {
        "id": zuora_id("subscription", number, str(version)),
        "subscriptionNumber": number,
        "accountId": zuora_id("account", account_number),
        "accountNumber": account_number,
        "accountName": "Northwind Media",
        "invoiceOwnerAccountNumber": account_number,
        "version": version,
        "revision": f"{version}.0",
        "isLatestVersion": True,
        "status": status,
        "termType": "TERMED" if term_end else "EVERGREEN",
        "contractEffectiveDate": "2025-03-01",
        "subscriptionStartDate": "2025-03-01",
        "subscriptionEndDate": term_end,
        "termStartDate": term_start,
        "termEndDate": term_end,
        "initialTerm": 12,
        "initialTermPeriodType": "Month",
        "currentTerm": 12,
        "currentTermPeriodType": "Month",
        "renewalTerm": 12,
        "renewalTermPeriodType": "Month",
        "autoRenew": auto_renew,
        "currency": "GBP",
        "updateTime": f"{updated} 09:00:00",  # Zuora: "yyyy-mm-dd HH:MM:SS" (zuora-sdk GetSubscriptionResponse.update_time)
        "SourceSystem__c": "Salesforce",
        "ratePlans": [],
    }
    if broken:
        del record["status"]
        del record["termStartDate"]
        record["termEndDate"] = None
        record["termType"] = "TERMED"
    return record


def tenant(accounts: list[dict], subscriptions: list[dict], **settings) -> dict:
    return {
        "credentials": {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET},
        "settings": {"defaultApiVersion": "211.0", **settings},
        "accounts": accounts,
        "subscriptions": subscriptions,
        "faults": [],
    }
