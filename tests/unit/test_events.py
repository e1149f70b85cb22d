"""The sample events in events/ (for `sam local invoke -e`) are what the state machine passes each task: each
validates against its handler's input model."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TASK_EVENTS = {
    "plan_sync.json": ("plan_sync", "PlanInput"),
    "sync_subscription.json": ("sync_subscription", "SyncInput"),
    "gather_results.json": ("gather_results", "GatherInput"),
}


def handler_module(function: str):
    spec = importlib.util.spec_from_file_location(f"events_check_{function}", ROOT / "functions" / function / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # so pydantic resolves the handler's annotations
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("event_file", sorted(TASK_EVENTS))
def test_each_task_event_is_a_valid_input_of_its_handler(event_file):
    function, model_name = TASK_EVENTS[event_file]
    model = getattr(handler_module(function), model_name)

    event = json.loads((ROOT / "events" / event_file).read_text())

    assert model.model_validate(event).model_dump(exclude_none=True, exclude_defaults=True).keys() <= event.keys()
