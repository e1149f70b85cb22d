"""EventBridge, locally: the two kinds of rule the template declares.

- Rules with an event pattern on "Step Functions Execution Status Change": moto does not emit these, so a
  watcher polls the state machines' executions and, when one ends, delivers the event AWS would send to every
  rule whose pattern matches it (moto's `EventPattern` decides, as its EventBridge does), invoking the rule's target
  functions through the local cloud.
- Schedules (`rate(...)`): `fire_schedules()` invokes their targets now; `start()` also runs them on a timer
  when asked to, for `make serve`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import uuid
from typing import Any

from moto.events.models import EventPattern

from local.cloud import LocalCloud

LOG = logging.getLogger(__name__)
STATUS_CHANGE = "Step Functions Execution Status Change"
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def matches(pattern: dict, event: dict) -> bool:
    """EventBridge's matching of an event pattern, as moto's EventBridge implements it."""
    return EventPattern.load(json.dumps(pattern)).matches_event(event)


def status_change_event(execution: dict, region: str, account_id: str) -> dict:
    detail = {
        "executionArn": execution["executionArn"],
        "stateMachineArn": execution["stateMachineArn"],
        "name": execution["name"],
        "status": execution["status"],
        "startDate": int(execution["startDate"].timestamp() * 1000),
        "stopDate": int(execution["stopDate"].timestamp() * 1000) if execution.get("stopDate") else None,
        "input": execution.get("input"),
        "output": execution.get("output"),
        "error": execution.get("error"),
        "cause": execution.get("cause"),
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": STATUS_CHANGE,
        "source": "aws.states",
        "account": account_id,
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [execution["executionArn"]],
        "detail": detail,
    }


def scheduled_event(rule_name: str, region: str, account_id: str) -> dict:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": account_id,
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:scheduler:{region}:{account_id}:schedule/default/{rule_name}"],
        "detail": {},
    }


def rate_seconds(expression: str) -> float:
    found = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not found:
        raise ValueError(f"unsupported schedule expression {expression!r}")
    unit = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}[found.group(2)]
    return int(found.group(1)) * unit


class LocalEventBridge:
    def __init__(self, cloud: LocalCloud, *, poll_seconds: float = 0.2, run_schedules: bool = False):
        self._cloud = cloud
        self._poll = poll_seconds
        self._run_schedules = run_schedules
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.delivered: list[tuple[str, dict]] = []

    def start(self) -> None:
        self._threads.append(threading.Thread(target=self._watch_executions, name="local-eventbridge-executions", daemon=True))
        if self._run_schedules:
            for rule in self._cloud.template.event_rules:
                if rule.kind == "schedule" and rule.schedule:
                    self._threads.append(
                        threading.Thread(target=self._run_schedule, args=(rule,), name=f"local-schedule-{rule.logical_id}", daemon=True)
                    )
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def deliver_status_changes(self) -> int:
        """Deliver the status-change event of every execution that ended since the last call."""
        sfn = self._cloud.client("stepfunctions")
        delivered = 0
        for machine in self._cloud.template.state_machines.values():
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine.arn):
                for summary in page["executions"]:
                    if summary["status"] in TERMINAL and summary["executionArn"] not in self._seen:
                        self._seen.add(summary["executionArn"])
                        execution = sfn.describe_execution(executionArn=summary["executionArn"])
                        delivered += self._deliver(status_change_event(execution, self._cloud.template.region, self._cloud.template.account_id))
        return delivered

    def fire_schedules(self, *targets: str) -> list[Any]:
        """Run the scheduled rules' targets once, now (what the schedule does at each tick): every schedule's, or
        only those whose target function is one of `targets` (logical ids)."""
        results = []
        for rule in self._cloud.template.event_rules:
            if rule.kind == "schedule" and (not targets or set(rule.targets) & set(targets)):
                event = (
                    json.loads(rule.input)
                    if rule.input
                    else scheduled_event(rule.logical_id, self._cloud.template.region, self._cloud.template.account_id)
                )
                results.extend(self._cloud.invoke(target, event) for target in rule.targets)
        return results

    def _scheduled_event(self, rule) -> dict:
        return scheduled_event(rule.logical_id, self._cloud.template.region, self._cloud.template.account_id)

    def _deliver(self, event: dict) -> int:
        delivered = 0
        for rule in self._cloud.template.event_rules:
            if rule.kind == "rule" and rule.enabled and rule.pattern and matches(rule.pattern, event):
                for target in rule.targets:
                    self._cloud.invoke(target, event)
                    self.delivered.append((target, event))
                    delivered += 1
        return delivered

    def _watch_executions(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self.deliver_status_changes()
            except Exception:  # the watcher must outlive one bad poll, as EventBridge would
                LOG.exception("Delivering execution status changes failed; trying again at the next poll")

    def _run_schedule(self, rule) -> None:
        interval = rate_seconds(rule.schedule)
        while not self._stop.wait(interval):
            for target in rule.targets:
                try:
                    self._cloud.invoke(target, self._scheduled_event(rule))
                except Exception:  # a failed tick is retried at the next one, as the scheduler would
                    LOG.exception("Scheduled target %s failed", target)
