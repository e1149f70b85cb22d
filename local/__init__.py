"""Runs the whole service on one machine. The shared layer's package is importable here as the layer makes
it importable in Lambda (its content is on the path)."""

import sys
from pathlib import Path

_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "shared")
if _LAYER not in sys.path:
    sys.path.append(_LAYER)
