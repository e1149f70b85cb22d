"""Cold-start import time of every function in template.yaml.

For each function: `python -X importtime -c "import app"` in a fresh interpreter, with the function's
directory and its layers on `sys.path` and the function's environment from the template (as Lambda would),
three times; the total is the cumulative time of the `app` import (everything it pulls in, without the
interpreter's own start-up), and we keep the median. The heaviest imports are reported per top-level package
(summed self time of its modules, from the median run).

Imports a function cannot use are flagged from what the template lets it do: a module needs a permission
or an event the function lacks (the Zuora client without the Zuora credentials secret, the parameters
utility without Secrets Manager or SSM, the REST event handler without an API event).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from local.sam_template import load_template

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
RUNS = 3


@dataclass(frozen=True)
class ImportLine:
    self_us: int
    cumulative_us: int
    depth: int
    module: str


@dataclass(frozen=True)
class Requirement:
    """A module a function can only use if the template grants it something."""

    module: str
    needs: str  # what the function must have, in words
    policies: frozenset[str] = frozenset()  # any of these SAM policy templates / actions
    event_type: str | None = None


REQUIREMENTS = (
    Requirement(
        "requests", "the Zuora credentials secret: only the Zuora client uses requests", frozenset({"AWSSecretsManagerGetSecretValuePolicy"})
    ),
    # The Zuora client and its token cache talk to Zuora; limio_sync.zuora's models and parsing are pure (the
    # sync rules, and so the API's views, read parsed Zuora data).
    Requirement("limio_sync.zuora.client", "the Zuora credentials secret", frozenset({"AWSSecretsManagerGetSecretValuePolicy"})),
    Requirement("limio_sync.zuora.token_cache", "the Zuora credentials secret", frozenset({"AWSSecretsManagerGetSecretValuePolicy"})),
    Requirement(
        "aws_lambda_powertools.utilities.parameters",
        "Secrets Manager or SSM access",
        frozenset({"AWSSecretsManagerGetSecretValuePolicy", "SSMParameterReadPolicy", "ssm:GetParametersByPath", "ssm:GetParameter"}),
    ),
    Requirement("aws_lambda_powertools.event_handler", "an API event", event_type="Api"),
)


def parse_importtime(stderr: str) -> list[ImportLine]:
    """The `import time:` lines of `python -X importtime` (header skipped)."""
    lines = []
    for raw in stderr.splitlines():
        if not raw.startswith("import time:"):
            continue
        fields = raw[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        name = fields[2].rstrip()
        stripped = name.lstrip(" ")
        lines.append(ImportLine(int(fields[0]), int(fields[1]), (len(name) - len(stripped) - 1) // 2, stripped))
    return lines


def app_total_ms(lines: list[ImportLine], module: str = "app") -> float:
    """Cumulative milliseconds of the top-level import of `module`."""
    for line in lines:
        if line.module == module and line.depth == 0:
            return line.cumulative_us / 1000
    raise ValueError(f"no top-level import of {module!r} in the importtime output")


def heaviest_packages(lines: list[ImportLine], top: int = 5, module: str = "app") -> list[tuple[str, float]]:
    """Top-level packages loaded by `import module`, by the summed self time of their modules (ms)."""
    inside = _under(lines, module)
    by_package: dict[str, int] = defaultdict(int)
    for line in inside:
        by_package[line.module.split(".")[0]] += line.self_us
    ranked = sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:top]
    return [(package, round(us / 1000, 1)) for package, us in ranked]


def _under(lines: list[ImportLine], module: str) -> list[ImportLine]:
    """The lines printed for `module`'s import: importtime prints children before their parent."""
    for position, line in enumerate(lines):
        if line.module == module and line.depth == 0:
            start = position
            while start > 0 and lines[start - 1].depth > 0:
                start -= 1
            return lines[start : position + 1]
    return []


def loaded_modules(lines: list[ImportLine], module: str = "app") -> set[str]:
    return {line.module for line in _under(lines, module)}


def import_chain(lines: list[ImportLine], module: str, root: str = "app") -> list[str]:
    """Who imported `module` first: the chain from `root` down to it (importtime prints a module's children
    before it, so a line's parent is the next line with a smaller depth)."""
    inside = _under(lines, root)
    for position, line in enumerate(inside):
        if line.module != module:
            continue
        chain, depth = [line.module], line.depth
        for later in inside[position + 1 :]:
            if later.depth < depth:
                chain.append(later.module)
                depth = later.depth
        return list(reversed(chain))
    return []


def unusable_imports(loaded: set[str], policies: set[str], event_types: set[str]) -> list[str]:
    """Modules loaded that the function cannot use, each with what it would need."""
    flags = []
    for requirement in REQUIREMENTS:
        is_loaded = any(name == requirement.module or name.startswith(requirement.module + ".") for name in loaded)
        granted = bool(requirement.policies & policies) or (requirement.event_type is not None and requirement.event_type in event_types)
        if is_loaded and not granted:
            flags.append(f"{requirement.module} (needs {requirement.needs})")
    return flags


def _grants(resource: dict[str, Any]) -> tuple[set[str], set[str]]:
    """SAM policy template names and IAM actions a function's Policies grant, and its event types."""
    granted: set[str] = set()
    for policy in resource.get("Properties", {}).get("Policies", []) or []:
        if isinstance(policy, str):
            granted.add(policy)
            continue
        for name, body in policy.items():
            granted.add(name)
            if name == "Statement":
                for statement in body:
                    actions = statement.get("Action", [])
                    granted.update([actions] if isinstance(actions, str) else actions)
    events = {event.get("Type", "") for event in (resource.get("Properties", {}).get("Events") or {}).values()}
    return granted, events


def _run(code_dir: Path, layers: list[Path], environment: dict[str, str]) -> list[ImportLine]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(code_dir), *map(str, layers)]),
        "PYTHONDONTWRITEBYTECODE": "",
        "AWS_DEFAULT_REGION": "eu-west-2",
        "AWS_REGION": "eu-west-2",
        **{key: value for key, value in environment.items() if isinstance(value, str)},
    }
    completed = subprocess.run(  # noqa: S603 - our own interpreter on our own code
        [sys.executable, "-X", "importtime", "-c", "import app"], cwd=code_dir, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"`import app` failed in {code_dir}:\n{completed.stderr[-2000:]}")
    return parse_importtime(completed.stderr)


def measure_imports(runs: int = RUNS) -> list[dict[str, Any]]:
    template = load_template(TEMPLATE)
    raw = yaml_parse(TEMPLATE.read_text())["Resources"]
    results = []
    for logical_id, spec in sorted(template.functions.items()):
        samples = [_run(spec.code_dir, spec.layers, spec.environment) for _ in range(runs)]
        totals = [app_total_ms(lines) for lines in samples]
        median_total = statistics.median(totals)
        median_run = samples[totals.index(median_total)] if median_total in totals else samples[0]
        policies, events = _grants(raw[logical_id])
        unusable = unusable_imports(loaded_modules(median_run), policies, events)
        # The same with FunctionTracing=PassThrough: limio_sync.observability then never loads the X-Ray SDK.
        untraced_env = {**spec.environment, "POWERTOOLS_TRACE_DISABLED": "true"}
        untraced = [app_total_ms(_run(spec.code_dir, spec.layers, untraced_env)) for _ in range(runs)]
        results.append(
            {
                "function": logical_id,
                "memory_mb": spec.memory_size,
                "runs_ms": [round(total, 1) for total in totals],
                "median_ms": round(median_total, 1),
                "median_ms_untraced": round(statistics.median(untraced), 1),
                "heaviest": heaviest_packages(median_run),
                "modules": len(loaded_modules(median_run)),
                "unusable": unusable,
                "unusable_via": {flag.split(" ", 1)[0]: import_chain(median_run, flag.split(" ", 1)[0]) for flag in unusable},
            }
        )
    return results
