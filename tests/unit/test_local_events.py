"""The local EventBridge delivers an execution's status change to the rules AWS would: the template's own patterns,
matched by moto's EventPattern."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from local.events import matches, status_change_event
from local.sam_template import load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def failure_rule_pattern() -> tuple[dict, str]:
    template = load_template(TEMPLATE, {}, region="eu-west-2", account_id="123456789012", stack_name="limio-sync-local")
    (rule,) = [rule for rule in template.event_rules if rule.kind == "rule"]
    return rule.pattern, template.state_machines["SyncStateMachine"].arn


def execution(status: str, state_machine_arn: str) -> dict:
    started = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    return {
        "executionArn": f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:sync-{'1' * 32}",
        "stateMachineArn": state_machine_arn,
        "name": f"sync-{'1' * 32}",
        "status": status,
        "startDate": started,
        "stopDate": started + dt.timedelta(minutes=15),
    }


def test_the_failure_rule_gets_failed_timed_out_and_aborted_executions_of_its_state_machine_only():
    pattern, arn = failure_rule_pattern()

    statuses = ("FAILED", "TIMED_OUT", "ABORTED", "SUCCEEDED", "RUNNING")
    delivered = {status: matches(pattern, status_change_event(execution(status, arn), "eu-west-2", "123456789012")) for status in statuses}
    other_machine = status_change_event(execution("FAILED", arn + "-other"), "eu-west-2", "123456789012")

    assert delivered == {"FAILED": True, "TIMED_OUT": True, "ABORTED": True, "SUCCEEDED": False, "RUNNING": False}
    assert not matches(pattern, other_machine)


def test_patterns_match_as_eventbridge_documents_prefix_and_anything_but():
    event = {"source": "aws.states", "detail": {"status": "FAILED", "name": "sync-abc"}}

    assert matches({"detail": {"name": [{"prefix": "sync-"}]}}, event)
    assert not matches({"detail": {"status": [{"anything-but": ["FAILED"]}]}}, event)
    assert not matches({"source": ["aws.lambda"]}, event)
