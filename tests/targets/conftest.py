"""Make targets/_shared importable, as the engine does with PYTHONPATH for the services."""
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "targets" / "_shared"
if str(SHARED) not in sys.path:
    sys.path.insert(0, str(SHARED))
