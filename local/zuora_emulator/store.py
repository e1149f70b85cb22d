"""The tenant's accounts and the latest version of each subscription, with Zuora's versioning rules."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from local.zuora_emulator.admin import AdminError, ContactsBody, TransferBody, changed_subscription, parse_action


class TenantStore:
    """Holds the data; every read returns a copy so callers can never change state behind the lock."""

    def __init__(self, accounts: Iterable[Mapping[str, Any]], subscriptions: Iterable[Mapping[str, Any]]):
        self._lock = threading.RLock()
        self._accounts: dict[str, dict[str, Any]] = {}
        for account in accounts:
            self._accounts[account["basicInfo"]["accountNumber"]] = copy.deepcopy(dict(account))
        self._subscriptions: dict[str, dict[str, Any]] = {}
        # updateTime has one-second resolution; the change sequence keeps later changes first within a second.
        self._change_sequence: dict[str, int] = {}
        self._changes = itertools.count(1)
        # Zuora still resolves a subscription by the id of an earlier version; it answers with the latest one.
        self._number_by_id: dict[str, str] = {}
        for subscription in subscriptions:
            self._store(copy.deepcopy(dict(subscription)), change=0)

    # Reads

    def account(self, key: str) -> dict[str, Any] | None:
        """By account number or account id."""
        with self._lock:
            account = self._find_account(key)
            return copy.deepcopy(account) if account else None

    def account_basic_infos(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(account["basicInfo"]) for account in self._accounts.values()]

    def subscription(self, key: str) -> dict[str, Any] | None:
        """By subscription number or the id of any of its versions."""
        with self._lock:
            number = key if key in self._subscriptions else self._number_by_id.get(key)
            subscription = self._subscriptions.get(number) if number else None
            return copy.deepcopy(subscription) if subscription else None

    def subscriptions_of(self, account_number: str) -> list[dict[str, Any]]:
        """Latest versions, most recently updated first, ties broken by subscription number."""
        with self._lock:
            owned = [sub for sub in self._subscriptions.values() if sub.get("accountNumber") == account_number]
            owned.sort(key=lambda sub: sub["subscriptionNumber"])
            owned.sort(key=self._recency, reverse=True)
            return copy.deepcopy(owned)

    def subscriptions_billed_to(self, account_number: str) -> list[dict[str, Any]]:
        """Latest versions whose invoice owner is the account (the subscription owner when none is given), by number."""
        with self._lock:
            billed = [
                sub for sub in self._subscriptions.values() if (sub.get("invoiceOwnerAccountNumber") or sub.get("accountNumber")) == account_number
            ]
            billed.sort(key=lambda sub: sub["subscriptionNumber"])
            return copy.deepcopy(billed)

    # Zuora-side changes: each stores a new version (new id, version + 1, revision + 1.0, updated now)

    def upsert_subscription(self, subscription: Mapping[str, Any]) -> dict[str, Any]:
        new_state = copy.deepcopy(dict(subscription))
        number = new_state.get("subscriptionNumber")
        if not number:
            raise ValueError("a subscription needs a subscriptionNumber")
        with self._lock:
            self._require_account(new_state.get("accountNumber"))
            return self._new_version(self._subscriptions.get(number), new_state)

    def update_subscription(self, number: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        if changes.get("subscriptionNumber", number) != number:
            raise ValueError("the subscription number of a subscription never changes")
        with self._lock:
            current = self._require_subscription(number)
            if "accountNumber" in changes:
                self._require_account(changes["accountNumber"])
            return self._new_version(current, {**copy.deepcopy(current), **copy.deepcopy(dict(changes))})

    def move_subscription(self, number: str, to_account_number: str) -> dict[str, Any]:
        """Owner transfer: both the subscription owner and the invoice owner become the target account."""
        with self._lock:
            current = self._require_subscription(number)
            info = self._require_account(to_account_number)["basicInfo"]
            owner = {"Id": info.get("id"), "Number": info["accountNumber"], "Name": info.get("name")}
            moved = copy.deepcopy(current)
            for field, value in owner.items():
                moved[f"account{field}"] = value
                moved[f"invoiceOwnerAccount{field}"] = value
            return self._new_version(current, moved)

    def apply_change(self, number: str, action: str, body: Mapping[str, Any] | None, *, today: dt.date) -> dict[str, Any]:
        """One admin action (local/zuora_emulator/admin.py); returns the new version, or the account for contacts."""
        checked = parse_action(action, body)
        with self._lock:
            current = self._require_subscription(number)
            if isinstance(checked, TransferBody):
                role = "account" if action == "transfer-owner" else "invoiceOwnerAccount"
                return self._new_version(current, self._with_owner(current, role, checked.accountNumber))
            if isinstance(checked, ContactsBody):
                return self._change_contacts(current, checked)
            return self._new_version(current, changed_subscription(current, checked, today=today))

    def _with_owner(self, current: dict[str, Any], role: str, account_number: str) -> dict[str, Any]:
        try:
            info = self._require_account(account_number)["basicInfo"]
        except ValueError as exc:
            raise AdminError(str(exc)) from None
        changed = copy.deepcopy(current)
        changed.update({f"{role}Id": info.get("id"), f"{role}Number": info["accountNumber"], f"{role}Name": info.get("name")})
        return changed

    def _change_contacts(self, current: dict[str, Any], body: ContactsBody) -> dict[str, Any]:
        """The owner account's contacts change in place (no subscription version: contacts belong to the account),
        or the subscription's own billToContact/soldToContact, which is a new version."""
        contacts = {name: value for name, value in (("billToContact", body.billToContact), ("soldToContact", body.soldToContact)) if value}
        if body.on == "subscription":
            changed = copy.deepcopy(current)
            for name, value in contacts.items():
                changed[name] = {**(changed.get(name) or {}), **copy.deepcopy(value)}
            return self._new_version(current, changed)
        account = self._require_account(current.get("accountNumber"))
        for name, value in contacts.items():
            account[name] = {**(account.get(name) or {}), **copy.deepcopy(value)}
        return copy.deepcopy(account)

    def remove_subscription(self, number: str) -> None:
        with self._lock:
            self._require_subscription(number)
            del self._subscriptions[number]
            del self._change_sequence[number]
            self._number_by_id = {key: owner for key, owner in self._number_by_id.items() if owner != number}

    # Internals (call with the lock held)

    def _find_account(self, key: str) -> dict[str, Any] | None:
        if key in self._accounts:
            return self._accounts[key]
        return next((acc for acc in self._accounts.values() if acc["basicInfo"].get("id") == key), None)

    def _require_account(self, account_number: Any) -> dict[str, Any]:
        if account_number not in self._accounts:
            raise ValueError(f"unknown account {account_number!r}; a subscription must belong to a tenant account")
        return self._accounts[account_number]

    def _require_subscription(self, number: str) -> dict[str, Any]:
        if number not in self._subscriptions:
            raise KeyError(f"no subscription {number} in the tenant")
        return self._subscriptions[number]

    def _new_version(self, previous: dict[str, Any] | None, new_state: dict[str, Any]) -> dict[str, Any]:
        if previous is None:
            version = int(new_state.get("version") or 1)
            revision = float(new_state.get("revision") or version)
        else:
            version = int(previous.get("version") or 1) + 1
            revision = float(previous.get("revision") or version - 1) + 1.0
        now = dt.datetime.now(dt.UTC)
        new_state.update(id=uuid.uuid4().hex, version=version, revision=f"{revision:.1f}", isLatestVersion=True)
        new_state["updateTime"] = now.strftime("%Y-%m-%d %H:%M:%S")
        new_state.setdefault("createTime", new_state["updateTime"])
        if "updatedDate" in new_state:
            new_state["updatedDate"] = now.strftime("%Y-%m-%d")
        self._store(new_state, change=next(self._changes))
        return copy.deepcopy(new_state)

    def _store(self, subscription: dict[str, Any], change: int) -> None:
        number = subscription["subscriptionNumber"]
        self._subscriptions[number] = subscription
        self._change_sequence[number] = change
        if subscription.get("id"):
            self._number_by_id[subscription["id"]] = number

    def _recency(self, subscription: dict[str, Any]) -> tuple[str, int]:
        updated = subscription.get("updateTime") or subscription.get("updatedDate") or ""
        return str(updated), self._change_sequence[subscription["subscriptionNumber"]]
