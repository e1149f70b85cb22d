"""`limio-sync`: the operator's command line for a deployed stack or `make serve` (see `limio-sync --help`)."""
