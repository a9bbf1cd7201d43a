"""The GPU path without a GPU: dispatch, the optional install, and the simulator suite.

``tests/gpu_sim/`` holds the kernels' tests; they need ``NUMBA_ENABLE_CUDASIM=1``
before Numba is imported, so ``test_simulator_suite`` runs them in a subprocess
(or they run in this process when the variable is already set, as in CI's
coverage step).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import pytest

import fasthinge as fh
from fasthinge._device import on_device

ROOT = Path(__file__).resolve().parents[1]


class FakeCudaArray:
    """Has the CUDA array interface and nothing else."""

    @property
    def __cuda_array_interface__(self):
        return {"shape": (2, 3), "typestr": "<f4", "data": (0, False), "version": 3}


class FakeDLPack:
    def __init__(self, device_type):
        self.device_type = device_type

    def __dlpack__(self, **kwargs):
        raise NotImplementedError

    def __dlpack_device__(self):
        return (self.device_type, 0)


class FakeTorchTensor:
    """Like a PyTorch CUDA tensor that requires grad: the interface raises."""

    is_cuda = True

    @property
    def __cuda_array_interface__(self):
        raise RuntimeError("Can't get __cuda_array_interface__ on Variable that requires grad")


FakeTorchTensor.__module__ = "torch.fake"


class BrokenDLPack(FakeDLPack):
    def __dlpack_device__(self):
        raise RuntimeError("no device")


def test_on_device():
    assert not on_device(BrokenDLPack(2))
    assert on_device(FakeTorchTensor())
    assert not on_device(np.ones(3))
    assert not on_device([1.0, 2.0])
    assert on_device(FakeCudaArray())
    assert on_device(FakeDLPack(2))
    assert not on_device(FakeDLPack(1))


def test_import_and_cpu_calls_do_not_import_numba_cuda():
    code = (
        "import sys, numpy as np, fasthinge as fh\n"
        "fh.weston_watkins(np.ones((2, 3)), np.array([0, 1]))\n"
        "fh.binary_hinge(np.ones(2), np.array([1, -1]))\n"
        "assert 'numba.cuda' not in sys.modules, 'numba.cuda was imported'\n"
        "assert 'fasthinge._cuda' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_missing_numba_cuda_names_the_extra(monkeypatch):
    from fasthinge._cuda import _runtime

    monkeypatch.setattr(_runtime, "SIMULATOR", False)
    monkeypatch.setattr(_runtime.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"pip install 'fasthinge\[cuda\]'"):
        fh.crammer_singer(FakeCudaArray(), np.array([0, 1]))


@pytest.mark.parametrize("value", ["many", "48", "16", "2048"])
def test_threads_per_block_setting_is_checked(monkeypatch, value):
    from fasthinge._cuda import _runtime

    monkeypatch.setenv("FASTHINGE_CUDA_THREADS", value)
    with pytest.raises(ValueError, match="FASTHINGE_CUDA_THREADS must be"):
        _runtime._power_of_two_setting("FASTHINGE_CUDA_THREADS", 256, 32)
    assert _runtime._power_of_two_setting("FASTHINGE_CUDA_UNSET_HERE", 256, 32) == 256


@pytest.mark.parametrize(("value", "ok"), [("1", True), ("64", True), ("0", False), ("96", False)])
def test_row_group_limit_setting_is_checked(monkeypatch, value, ok):
    from fasthinge._cuda import _runtime

    monkeypatch.setenv("FASTHINGE_CUDA_MAX_GROUP", value)
    if ok:
        assert _runtime._power_of_two_setting("FASTHINGE_CUDA_MAX_GROUP", 128, 1) == int(value)
    else:
        with pytest.raises(ValueError, match=r"FASTHINGE_CUDA_MAX_GROUP must be .*\[1, 1024\]"):
            _runtime._power_of_two_setting("FASTHINGE_CUDA_MAX_GROUP", 128, 1)


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("64", 64), ("5000", 1024)])
def test_tile_limit_setting(monkeypatch, value, expected):
    from fasthinge._cuda import _tiles

    monkeypatch.setenv("FASTHINGE_CUDA_TILE_MAX_CLASSES", value)
    assert _tiles._max_classes() == expected
    monkeypatch.setenv("FASTHINGE_CUDA_TILE_MAX_CLASSES", "many")
    with pytest.raises(ValueError, match="FASTHINGE_CUDA_TILE_MAX_CLASSES must be an integer"):
        _tiles._max_classes()
    monkeypatch.setattr(_tiles, "MAX_CLASSES", expected)
    for n_classes, width in ((1, 17), (16, 17), (17, 33), (128, 129), (129, 257)):
        assert _tiles.width_for(n_classes) == (width if n_classes <= expected else 0)


def test_cuda_import_lives_in_one_module():
    pattern = re.compile(r"^\s*(from numba import .*\bcuda\b|import numba\.cuda)", re.M)
    sources = [p for p in (ROOT / "fasthinge").rglob("*.py") if pattern.search(p.read_text())]
    assert [p.relative_to(ROOT).as_posix() for p in sources] == ["fasthinge/_cuda/_runtime.py"]


SIMULATOR_IN_THIS_PROCESS = bool(numba.config.ENABLE_CUDASIM)
#: (process, directory) of each suite this process started (see ``stop_simulator_suite``).
STARTED: list = []
#: Runs the suite, then writes its exit status to ``rc`` (atomically: a test on another
#: pytest-xdist worker waits for that file, not for the process).
_RUN_AND_RECORD = """
import os, subprocess, sys
run_dir = sys.argv[1]
with open(os.path.join(run_dir, "log"), "w") as log:
    rc = subprocess.call(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT)
with open(os.path.join(run_dir, "rc.tmp"), "w") as f:
    f.write(str(rc))
os.replace(os.path.join(run_dir, "rc.tmp"), os.path.join(run_dir, "rc"))
"""


def simulator_run_dir(run_id: str) -> Path:
    """Where the suite of test session ``run_id`` writes its log and exit status."""
    return Path(tempfile.gettempdir()) / f"fasthinge-gpu-sim-{run_id}"


def start_simulator_suite(run_dir: Path) -> None:
    """Start ``tests/gpu_sim`` in a subprocess writing into ``run_dir`` (once per directory).

    ``conftest`` calls this at collection (in one pytest-xdist worker only). The
    simulator runs every CUDA thread as Python: the suite takes about half a
    minute of one core (``tests/gpu_sim/fast_simulator.py``), so it runs beside the
    rest of the session and ``test_simulator_suite`` collects its result. The
    CPU path it compares with runs JIT-free too (tiny shapes): no CPU kernel to
    compile; the coverage run checks that JIT-free results equal the compiled ones.
    """
    if SIMULATOR_IN_THIS_PROCESS:
        return
    try:
        run_dir.mkdir()
    except FileExistsError:  # started already
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    env.update(NUMBA_ENABLE_CUDASIM="1", NUMBA_DISABLE_JIT="1",
               FASTHINGE_CUDA_THREADS="32", FASTHINGE_CUDA_MAX_BLOCKS="2")  # fmt: skip
    pytest_command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                      "-p", "no:benchmark", "-o", "addopts=", "tests/gpu_sim"]  # fmt: skip
    command = [sys.executable, "-c", _RUN_AND_RECORD, str(run_dir), *pytest_command]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    STARTED.append((process, run_dir))


def stop_simulator_suite(interrupted: bool) -> None:
    """At the end of this process's session: reap the suite's processes.

    Normally wait for them: under pytest-xdist, ``test_simulator_suite`` may be
    waiting for the result on another worker. A session cut short (Ctrl-C) kills
    the wrapper and its pytest, and removes their directory; pytest-xdist workers
    do not see the interrupt (their session ends normally), so there the worker
    waits for the suite (about half a minute) and the directory stays in the
    temporary directory.
    """
    while STARTED:
        process, run_dir = STARTED.pop()
        if interrupted and process.poll() is None:
            if hasattr(os, "killpg"):
                os.killpg(process.pid, signal.SIGKILL)
            else:  # pragma: no cover (Windows)
                process.kill()
        process.wait()
        if interrupted:
            shutil.rmtree(run_dir, ignore_errors=True)


@pytest.mark.skipif(
    SIMULATOR_IN_THIS_PROCESS,
    reason="the simulator is on in this process: tests/gpu_sim runs here, not in a subprocess",
)
def test_simulator_suite(request):
    run_dir = simulator_run_dir(request.config.simulator_run_id)
    start_simulator_suite(run_dir)  # when run on its own
    deadline = time.monotonic() + 1800
    while not (run_dir / "rc").exists():
        assert time.monotonic() < deadline, "the simulator suite did not finish in 30 minutes"
        time.sleep(0.2)
    returncode = int((run_dir / "rc").read_text())
    output = (run_dir / "log").read_text()
    shutil.rmtree(run_dir, ignore_errors=True)
    assert returncode == 0, output[-8000:]
    assert re.search(r"\d+ passed", output) and "skipped" not in output, output[-2000:]
