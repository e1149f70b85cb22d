"""Project conventions a new user relies on: the layer ships the locked versions, locks are hashed, every sam
command finds the region, and nothing in the README points out of the repository."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pins(path: Path) -> dict[str, str]:
    """name → version of every `name==version` line (extras dropped; names normalised as pip does)."""
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            found[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return found


def test_the_layer_ships_boto3_and_botocore_together_pinned_as_in_the_lock():
    layer, lock = pins(ROOT / "layers/shared/requirements.txt"), pins(ROOT / "requirements/dev.lock")

    assert {"boto3", "botocore"} <= layer.keys()
    assert {name: version for name, version in layer.items() if lock.get(name) != version} == {}


def test_every_locked_requirement_has_hashes_and_says_how_it_was_made():
    for lock in ("dev.lock", "checkov.lock"):
        text = (ROOT / "requirements" / lock).read_text()
        requirements = re.findall(r"^[A-Za-z0-9_.-]+==\S+ \\\n((?:    --hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)", text, re.MULTILINE)
        assert len(requirements) == len(pins(ROOT / "requirements" / lock)) > 0, lock
        assert "pip-compile" in text and "make lock" in (ROOT / "Makefile").read_text(), lock


def test_every_sam_configuration_has_its_region_where_every_command_reads_it():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    for environment in ("default", "dev", "prod"):
        assert config[environment]["global"]["parameters"]["region"] == "eu-west-2", environment
        assert "region" not in config[environment].get("deploy", {}).get("parameters", {}), environment


def test_the_readme_links_only_inside_the_repository():
    links = re.findall(r"\]\(([^)#]+)", (ROOT / "README.md").read_text())
    for link in links:
        if not link.startswith(("http://", "https://")):
            target = (ROOT / link).resolve()
            assert target.is_relative_to(ROOT) and target.exists(), link
    assert "../" not in " ".join(links) and "../shared" not in (ROOT / "README.md").read_text()


def test_the_operator_cli_is_installed_with_the_project():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["limio-sync"] == "limio_sync_cli.main:main"


def test_the_type_checker_checks_the_shared_package_and_every_function_for_their_runtime_in_make_lint():
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    runtime = re.search(r"^ *Runtime: *python([0-9.]+)", (ROOT / "template.yaml").read_text(), re.MULTILINE)[1]
    makefile = (ROOT / "Makefile").read_text()

    assert mypy["python_version"] == runtime
    assert set(mypy["files"]) == {"layers/shared/limio_sync", "functions"}
    assert "typecheck" in re.search(r"^lint:(.*)$", makefile, re.MULTILINE)[1].split()
    assert "$(BIN)/mypy" in re.search(r"^typecheck:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)[1]
