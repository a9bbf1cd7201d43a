"""Read the committed parity vectors (written by ``tests/golden/generate.py``)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent / "golden"))
from generate import load

GOLDEN = pathlib.Path(__file__).parent / "golden"


def cases(name):
    loaded, _versions = load(GOLDEN / f"{name}.npz")
    return sorted(loaded.items())
