"""The README's commands run as written: its `make serve` + curl sequence and its `limio-sync` lines, extracted from
README.md and run with bash against `make serve` (on a free port instead of 3000, so tests can run side by side)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)


def bash_block_after(heading: str) -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(heading) :]
    return re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_readme_curl_and_cli_sequences_work_verbatim_against_make_serve():
    port = free_port()
    curl_block = bash_block_after("### Driving `make serve` with curl")
    cli_block = bash_block_after("### The operator CLI: `limio-sync`")
    script = "set -eu\n" + (curl_block + "\necho '== CLI'\n" + cli_block).replace("3000", str(port))
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "LOCAL_API_", "LIMIO_SYNC_"))}
    # `make serve` uses the virtualenv running these tests (installed already), on the free port.
    environment.update(PORT=str(port), VENV=str(VENV), PYTHON=sys.executable)

    # Files, not pipes: the sequence's `make serve &` keeps its output open after the shell is done.
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        shell = subprocess.Popen(["bash", "-c", script], cwd=ROOT, env=environment, stdout=stdout, stderr=stderr, start_new_session=True)
        try:
            shell.wait(timeout=420)
        finally:
            os.killpg(shell.pid, signal.SIGTERM)  # the `make serve &` of the sequence runs in the shell's group
        stdout.seek(0), stderr.seek(0)
        output, errors = stdout.read(), stderr.read()

    assert shell.returncode == 0, f"stdout:\n{output[-3000:]}\nstderr:\n{errors[-3000:]}"
    curl_part, cli_part = output.split("== CLI\n")
    assert f"API base URL: http://127.0.0.1:{port}/v1" in curl_part
    assert "export AWS_ACCESS_KEY_ID=AKIALOCALSERVE000001" in curl_part  # what the README exports is what serve prints
    assert '"status":"PARTIALLY_FAILED"' in curl_part and "1 failed: A-S00002012." in curl_part
    assert '"subscriptionNumber":"A-S00002001"' in curl_part and '"syncs":[{' in curl_part
    assert re.search(r"\] +(\d+)/\1 settled  SUCCEEDED", cli_part), cli_part  # limio-sync start: the bar ends full
    assert "A-S00002012" in cli_part and "ZUORA_BAD_RESPONSE" in cli_part  # limio-sync failures
    assert '"status": "SUCCEEDED"' in cli_part  # limio-sync status --json of the CLI's own sync
