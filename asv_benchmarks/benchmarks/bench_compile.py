"""Start-up costs, each measured in a fresh interpreter (asv ``timeraw_``).

- ``timeraw_import_fasthinge``: ``import fasthinge`` (NumPy included; no Numba).
- ``FirstCall.timeraw_cold``: ``import fasthinge`` + the first call, with an
  empty temporary ``NUMBA_CACHE_DIR``: every kernel the call needs compiles.
- ``FirstCall.timeraw_warm``: the same after another process filled that
  cache: Numba is imported and the kernels are loaded from disk.

``driver`` picks the input: ``"serial"`` a small one (256 x 10, or 256),
``"parallel"`` one large enough for the parallel driver. NumPy is imported and
the input built in the untimed setup; the temporary cache is removed when the
process exits.
"""

import os

from .common import FUNCTIONS, QUICK, workload

#: driver -> kind -> shape of the first call's input.
DRIVER_SHAPES = {
    "serial": {"multiclass": (256, 10), "binary": (256,)},
    "parallel": {"multiclass": (4096, 100), "binary": (1 << 17,)},
}
for _shapes in DRIVER_SHAPES.values():  # target-matrix inputs have multiclass shapes
    _shapes["onehot"] = _shapes["multilabel"] = _shapes["multiclass"]
DRIVERS = ["serial"] if QUICK else list(DRIVER_SHAPES)
#: Compiling takes seconds: the quick grid compiles one function only.
COMPILED = list(FUNCTIONS)[:1] if QUICK else list(FUNCTIONS)

#: The directory holding the ``benchmarks`` package, for the fresh interpreters.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The setup runs in the timed interpreter before the statement (untimed). It is
# pasted into a triple-quoted string by asv: no backslashes, no triple quotes.
_SETUP = """
import atexit, os, shutil, subprocess, sys, tempfile
os.environ["NUMBA_CACHE_DIR"] = cache = tempfile.mkdtemp(prefix="fasthinge-asv-numba-")
atexit.register(shutil.rmtree, cache, True)
sys.path.insert(0, {root!r})
from benchmarks.common import case_inputs
scores, labels, kwargs = case_inputs({function!r}, {shape!r}, "float32")
"""
_FILL_CACHE = """
subprocess.run([sys.executable, "-c", {child!r}], check=True)
"""
_CHILD = (
    "import sys; sys.path.insert(0, {root!r}); from benchmarks.common import case_inputs; "
    "import fasthinge; s, y, kw = case_inputs({function!r}, {shape!r}, 'float32'); "
    "fasthinge.{function}(s, y, **kw)"
)
_STATEMENT = """
import fasthinge
fasthinge.{function}(scores, labels, **kwargs)
"""


def first_call_code(function, driver, warm):
    """``(statement, setup)`` of a timeraw first call."""
    kind = workload(function)[0]
    fields = dict(root=ROOT, function=function, shape=DRIVER_SHAPES[driver][kind])
    setup = _SETUP.format(**fields)
    if warm:  # a child with the same NUMBA_CACHE_DIR compiles and writes the cache
        setup += _FILL_CACHE.format(child=_CHILD.format(**fields))
    return _STATEMENT.format(**fields), setup


class FirstCall:
    params = (COMPILED, DRIVERS)
    param_names = ("function", "driver")
    number = 1
    repeat = (1, 3, 60.0)
    warmup_time = 0
    timeout = 600

    def timeraw_cold(self, function, driver):
        return first_call_code(function, driver, warm=False)

    def timeraw_warm(self, function, driver):
        return first_call_code(function, driver, warm=True)


def timeraw_import_fasthinge():
    return "import fasthinge"


timeraw_import_fasthinge.number = 1
timeraw_import_fasthinge.repeat = (3, 10, 10.0)
timeraw_import_fasthinge.warmup_time = 0
