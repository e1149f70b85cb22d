"""Where the local stack's structured logs go when a person is reading the terminal (`make demo`, `make serve`).

The functions log JSON lines (Powertools) as they do to CloudWatch; mixed into a demo's output they drown it. They
go to a file instead, whose path the caller prints; `verbose` shows them on stderr as well. The local runtime's own
warnings (moto, the gateway, the event watcher) go to the same file.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from pathlib import Path

from limio_sync.observability import logger

LOG_DIR = Path(__file__).resolve().parent.parent / ".logs"


def default_log_file(name: str) -> Path:
    return LOG_DIR / f"{name}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.log"


def send_logs_to_file(path: Path, *, verbose: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    structured = logger.registered_handler
    assert isinstance(structured, logging.StreamHandler)
    to_file = logging.FileHandler(path, encoding="utf-8")
    if verbose:
        to_file.setFormatter(structured.formatter)
        logger.addHandler(to_file)
        structured.setStream(sys.stderr)
    else:
        structured.setStream(to_file.stream)
    logging.getLogger(logger.service).propagate = False  # its lines are written once, by its own handler(s)
    runtime = logging.FileHandler(path, encoding="utf-8")
    runtime.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(threadName)s: %(message)s"))
    echo = [logging.StreamHandler(sys.stderr)] if verbose else []
    logging.basicConfig(level=logging.WARNING, handlers=[runtime, *echo], force=True)
    logging.captureWarnings(True)
    return path
