"""`make invoke FUNCTION=<logical id> EVENT=events/<file>.json`: `sam local invoke -e` without Docker.

Starts the local stack (tables, bucket, secret and catalog mapping in moto, the Zuora emulator with the demo tenant,
the state machine), runs that function's real handler once with the event through Lambda's Invoke, and prints what
`sam local invoke` prints on stdout: the handler's result as JSON, or the runtime's error payload (errorMessage,
errorType, requestId, stackTrace) when it raised; like sam, a handler's error is its result, not a failure of the
command. The function's logs go to stderr, as sam shows the container's.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from limio_sync.observability import logger
from local.cloud import LambdaInvocationError
from local.service import DEMO_TENANT, LocalSyncService


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make invoke", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("function", help="the function's logical id in template.yaml, e.g. PlanSyncFunction")
    parser.add_argument("--event", "-e", type=Path, required=True, help="a JSON event file, e.g. events/plan_sync.json ('-' reads stdin)")
    parser.add_argument("--tenant", type=Path, default=DEMO_TENANT, help="Zuora emulator tenant file (default: the demo tenant)")
    args = parser.parse_args(argv)

    try:
        event = json.loads(sys.stdin.read() if str(args.event) == "-" else args.event.read_text())
    except (OSError, ValueError) as error:
        print(f"make invoke: cannot read the event {args.event}: {error}", file=sys.stderr)
        return 2
    structured = logger.registered_handler
    assert isinstance(structured, logging.StreamHandler)
    structured.setStream(sys.stderr)  # stdout is the result alone
    logging.getLogger(logger.service).propagate = False
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with LocalSyncService(args.tenant, parameter_overrides={"LogLevel": "INFO"}) as service:
        assert service.cloud is not None
        if args.function not in service.cloud.function_names:
            print(f"make invoke: no function {args.function!r}; the template has {', '.join(sorted(service.cloud.function_names))}", file=sys.stderr)
            return 2
        try:
            result = service.cloud.invoke(args.function, event)
        except LambdaInvocationError as error:
            result = error.payload
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
