"""``python -m fasthinge.bench``: every function against the memory roofline and its peers.

In one run, for each function × shape × dtype, it prints three passes:

- ``grad->out``: loss and gradient into a preallocated ``out=`` buffer (from
  ``fasthinge.empty_gradient``, as the docs advise for ``out=``);
- ``grad``: loss and a newly allocated gradient (what ``loss, grad = f(S, y)`` costs);
- ``loss``: ``return_grad=False`` (reads only),

each with its median time, GB/s (bytes read and written / time), its ratio to
a roofline measured in the same process on the same bytes with the same
threads (``grad``: a parallel Numba copy of the scores into the gradient buffer
plus a read of the labels; ``loss``: a read-only pass over scores and labels),
and the speed-up over each installed peer (``fasthinge.bench.peers``: the NumPy
baselines always; PyTorch, scikit-learn and JAX when installed), after checking
that each peer's result agrees with fasthinge's. Then the end-to-end time of
small calls, the time of ``import fasthinge`` and of the first result in a
fresh process.

Exit status 1 when a peer disagrees with fasthinge or fails.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import peers as peer_table
from .timing import median_seconds, numba_threads, paired_seconds


def _multiclass_inputs(shape: tuple, dtype: np.dtype, rng: np.random.Generator) -> tuple:
    """(N, C) standard-normal scores and labels uniform in [0, C)."""
    return rng.standard_normal(shape, dtype=dtype), rng.integers(0, shape[1], shape[0])


def _binary_inputs(shape: tuple, dtype: np.dtype, rng: np.random.Generator) -> tuple:
    """(N,) standard-normal decision values and uniform ±1 targets."""
    return rng.standard_normal(shape, dtype=dtype), rng.integers(0, 2, shape[0]) * 2 - 1


def _onehot_inputs(shape: tuple, dtype: np.dtype, rng: np.random.Generator) -> tuple:
    """(N, C) scores and one-hot (N, C) targets (``categorical_hinge``)."""
    scores, labels = _multiclass_inputs(shape, dtype, rng)
    return scores, np.eye(shape[1], dtype=dtype)[labels]


def _multilabel_inputs(shape: tuple, dtype: np.dtype, rng: np.random.Generator) -> tuple:
    """(N, C) scores and targets with two classes per row, then -1 (``multilabel_margin``)."""
    scores, labels = _multiclass_inputs(shape, dtype, rng)
    targets = np.full(shape, -1)
    targets[:, 0] = labels
    targets[:, 1] = (labels + 1) % shape[1]
    return scores, targets


def _zero_one_cost(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """A 0/1 cost matrix (margin rescaling with it is Crammer–Singer)."""
    return 1 - np.eye(scores.shape[1], dtype=scores.dtype)


#: kind of input -> ``make(shape, dtype, rng) -> (scores, labels)``.
KINDS = {
    "multiclass": _multiclass_inputs,
    "onehot": _onehot_inputs,
    "multilabel": _multilabel_inputs,
    "binary": _binary_inputs,
}

#: fasthinge function -> the kind of input it takes, or ``(kind, keyword arguments)``
#: (a keyword's value may be a callable of ``(scores, labels)``, e.g.
#: ``"topk_hinge": ("multiclass", {"k": 5})``). Adding a function to the
#: benchmark is one line here; its NumPy baseline goes in ``baselines.BASELINES``
#: and its peers in ``peers`` (without them those columns show ``-``).
FUNCTIONS = {
    "weston_watkins": "multiclass",
    "crammer_singer": "multiclass",
    "one_vs_all": "multiclass",
    "topk_hinge": ("multiclass", {"k": 5}),
    "structured_hinge": ("multiclass", {"cost": _zero_one_cost}),
    "categorical_hinge": "onehot",
    "multilabel_margin": "multilabel",
    "binary_hinge": "binary",
    "perceptron": "binary",
    "smooth_hinge": "binary",
    "modified_huber": "binary",
    "hinge_embedding": "binary",
}


def workload(function: str) -> tuple:
    """``(kind, keyword arguments)`` of a function of ``FUNCTIONS``.

    Parameters
    ----------
    function : str
        A key of ``FUNCTIONS``.

    Returns
    -------
    kind : str
        A key of ``KINDS``.
    kwargs : dict
        Extra keyword arguments of every call (values may be callables).
    """
    spec = FUNCTIONS[function]
    return (spec, {}) if isinstance(spec, str) else (spec[0], dict(spec[1]))


def call_kwargs(function: str, scores: np.ndarray, labels: np.ndarray) -> dict:
    """The extra keyword arguments of ``function`` for one input, callables resolved.

    Parameters
    ----------
    function : str
        A key of ``FUNCTIONS``.
    scores, labels : ndarray
        The input.

    Returns
    -------
    dict
    """
    return {
        key: value(scores, labels) if callable(value) else value
        for key, value in workload(function)[1].items()
    }


#: preset -> kind -> shapes. Multiclass shapes are (N, C), binary ones (N,).
SIZES = {
    "full": {
        "multiclass": (
            (10**6, 10),
            (10**5, 100),
            (10**4, 10**3),
            (10**3, 10**4),
            (4096, 1000),  # 4 M elements: fits a large last-level cache
            (256, 1000),  # 256 k elements: fits L2
        ),
        "binary": ((10**7,), (4_096_000,), (256_000,)),
    },
    "quick": {
        "multiclass": ((10**6, 10), (10**4, 10**3)),
        "binary": ((10**7,),),
    },
    "tiny": {
        "multiclass": ((64, 10), (16, 40)),
        "binary": ((500,),),
    },
}

#: kind -> the shape of the small-call (latency) measurement.
SMALL = {"multiclass": (256, 10), "binary": (256,)}
#: Kinds of input with the shapes of another kind (target matrices: as multiclass).
for _alias in ("onehot", "multilabel"):
    SMALL[_alias] = SMALL["multiclass"]
    for _sizes in SIZES.values():
        _sizes[_alias] = _sizes["multiclass"]

#: preset -> keyword arguments of ``median_seconds`` for fasthinge and the roofline
#: (``ours``) and for the peers (slower: fewer rounds).
TIMERS = {
    "full": {"ours": {"repeat": 7, "min_time": 0.05}, "peer": {"repeat": 5, "min_time": 0.05}},
    "quick": {"ours": {"repeat": 5, "min_time": 0.02}, "peer": {"repeat": 3, "min_time": 0.0}},
    "tiny": {"ours": {"repeat": 3, "min_time": 0.001}, "peer": {"repeat": 1, "min_time": 0.0}},
}

#: preset -> (rounds of each fresh-process timing, how many of the functions get a
#: first-result process: ``None`` all). The smoke preset runs each kind once: ~35
#: fresh processes of about a second each were 34 s of a 46 s ``--tiny`` run.
STARTUP = {"full": (5, None), "quick": (5, None), "tiny": (1, 1)}

PASS_OUT, PASS_GRAD, PASS_LOSS = "grad->out", "grad", "loss"


def make_inputs(kind: str, shape: tuple, dtype: Any, seed: int = 0) -> tuple:
    """Random inputs of one kind of ``KINDS``.

    Parameters
    ----------
    kind : str
        ``"multiclass"``: ``(N, C)`` scores and labels in ``[0, C)``;
        ``"binary"``: ``(N,)`` decision values and ``±1`` targets.
    shape : tuple of int
        The scores' shape.
    dtype : dtype
        The scores' dtype.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    scores : ndarray
    labels : ndarray of int64
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind of input {kind!r}; known: {sorted(KINDS)}")
    return KINDS[kind](tuple(shape), np.dtype(dtype), np.random.default_rng(seed))


@dataclass
class Row:
    """One line of the main table."""

    function: str
    shape: tuple
    dtype: str
    mode: str
    seconds: float
    nbytes: int
    roof_ratio: float  # median over rounds of time / the roofline's time in the same round
    roof_kind: str
    speedups: dict = field(default_factory=dict)  # library -> (ratio or None, problem or None)


@dataclass
class Report:
    """Everything the run measured, printed at the end."""

    rows: list = field(default_factory=list)
    small: list = field(default_factory=list)  # (function, shape, seconds, {library: seconds})
    startup: list = field(default_factory=list)  # lines
    problems: list = field(default_factory=list)


def _timed(run: Callable[[], Any], timer: dict) -> tuple:
    """``(median seconds, what the last call returned)``."""
    box: list = [None]

    def call() -> None:
        box[0] = run()

    return median_seconds(call, **timer), box[0]


def _paired(run: Callable[[], Any], roofline: Callable[[], Any], timer: dict) -> tuple:
    """``(median seconds, median ratio to the roofline, what the last call returned)``.

    ``run`` and ``roofline`` alternate, round by round (``timing.paired_seconds``).
    """
    box: list = [None]

    def call() -> None:
        box[0] = run()

    seconds, _, ratio = paired_seconds(call, roofline, **timer)
    return seconds, ratio, box[0]


def _shape_text(shape: tuple) -> str:
    return "x".join(str(d) for d in shape)


def _time_text(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale or unit == "us":
            value = seconds / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    raise AssertionError  # pragma: no cover


class _Progress:
    """A tqdm bar on stderr when tqdm is installed, else a plain status line.

    When stderr is not a terminal (CI logs) each step is one plain line instead.
    """

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.count, self.enabled, self.bar = total, 0, enabled, None
        self.tty = sys.stderr.isatty()
        if enabled and self.tty:
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self.bar = tqdm(total=total, file=sys.stderr, leave=False, unit="step")

    def start(self, label: str) -> None:
        if self.bar is not None:
            self.bar.set_description_str(label)
        elif self.enabled:
            text = f"[{self.count + 1}/{self.total}] {label}"
            sys.stderr.write(f"\r{text:<78}" if self.tty else text + "\n")
            sys.stderr.flush()

    def done(self) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.tty:
            sys.stderr.write("\r" + " " * 78 + "\r")
            sys.stderr.flush()


class _Bench:
    """One run: settings, the roofline cache and the measurements."""

    def __init__(self, args: argparse.Namespace, n_threads: int) -> None:
        self.args, self.n_threads = args, n_threads
        self.timer = TIMERS[args.sizes]["ours"]
        self.peer_timer = TIMERS[args.sizes]["peer"]
        self.report = Report()
        self.libraries = [
            lib
            for lib in peer_table.LIBRARIES
            if peer_table.available(lib) and (lib == "numpy" or not args.no_peers)
        ]

    def _peers(self, function: str, mode: str) -> list:
        return [p for p in peer_table.peers_for(function, mode) if p.library in self.libraries]

    def _run_peer(
        self, peer: Any, scores: np.ndarray, labels: np.ndarray, ours: tuple, timer: dict
    ) -> tuple:
        """``(seconds or None, problem or None)`` of one peer on one input."""
        try:
            prepared = peer.prepare(scores, labels, self.n_threads)
            if prepared is None:
                return None, None
            seconds, raw = _timed(prepared.run, timer)
            problem = peer_table.compare(ours, prepared.result(raw), scores.dtype)
        except Exception as exc:  # a failing peer is reported, not fatal
            return None, f"{type(exc).__name__}: {exc}"
        return seconds, problem

    def _note(self, peer: Any, shape: tuple, dtype: str, problem: str) -> str:
        self.report.problems.append(f"{peer.name} {_shape_text(shape)} {dtype}: {problem}")
        return problem

    def measure(self, function: str, scores: np.ndarray, labels: np.ndarray, roof: dict) -> None:
        """Time the three passes of ``function`` and its peers on one input."""
        import fasthinge

        func = functools.partial(
            getattr(fasthinge, function), **call_kwargs(function, scores, labels)
        )
        n, out = self.n_threads, roof["out"]
        with numba_threads(roof["threads"]):  # the roofline's; fasthinge takes n_threads=n
            t_out, r_out, _ = _paired(lambda: func(scores, labels, out=out, n_threads=n),
                                      roof["copy"], self.timer)  # fmt: skip
            t_grad, r_grad, ours_grad = _paired(lambda: func(scores, labels, n_threads=n),
                                                roof["copy"], self.timer)  # fmt: skip
            t_loss, r_loss, ours_loss = _paired(
                lambda: func(scores, labels, return_grad=False, n_threads=n),
                roof["read"],
                self.timer,
            )
        shape, dtype = scores.shape, scores.dtype.name
        read, written = scores.nbytes + labels.nbytes, scores.nbytes
        rows = [
            Row(function, shape, dtype, PASS_OUT, t_out, read + written, r_out, "copy"),
            Row(function, shape, dtype, PASS_GRAD, t_grad, read + written, r_grad, "copy"),
            Row(function, shape, dtype, PASS_LOSS, t_loss, read, r_loss, "read"),
        ]
        passes = (
            (rows[1], peer_table.LOSS_GRAD, ours_grad),
            (rows[2], peer_table.LOSS, (ours_loss, None)),
        )
        for row, mode, ours in passes:
            for peer in self._peers(function, mode):
                seconds, problem = self._run_peer(peer, scores, labels, ours, self.peer_timer)
                if problem is not None:
                    self._note(peer, shape, dtype, problem)
                if seconds is not None or problem is not None:
                    ratio = None if seconds is None else seconds / row.seconds
                    row.speedups[peer.library] = (ratio, problem)
        self.report.rows += rows

    def roofline(self, scores: np.ndarray, labels: np.ndarray) -> dict:
        """The copy and read rooflines of one input (same bytes, same threads).

        ``"copy"`` copies the scores into a gradient-sized buffer and reads the
        labels, ``"read"`` reads both: parallel Numba passes, on ``"threads"``
        threads. Below ``PARALLEL_MIN_ELEMENTS`` fasthinge runs its serial
        driver, so the roofline runs on one thread too.
        """
        from .._buffers import empty_gradient
        from .._threading import PARALLEL_MIN_ELEMENTS
        from ._copy import parallel_copy, parallel_read

        out = empty_gradient(scores)  # (where ``out=`` buffers should start: the docs)
        flat_scores, flat_out = scores.reshape(-1), out.reshape(-1)

        def copy() -> None:
            parallel_copy(flat_scores, flat_out)
            parallel_read(labels)

        def read() -> None:
            parallel_read(flat_scores)
            parallel_read(labels)

        n = self.n_threads if scores.size >= PARALLEL_MIN_ELEMENTS else 1
        return {"out": out, "copy": copy, "read": read, "threads": n}

    def small_call(self, function: str) -> None:
        """End-to-end time of one small float32 call (new gradient), and of its peers."""
        import fasthinge

        kind = workload(function)[0]
        scores, labels = make_inputs(kind, SMALL[kind], np.float32)
        kwargs = call_kwargs(function, scores, labels)
        func = getattr(fasthinge, function)
        seconds, ours = _timed(lambda: func(scores, labels, **kwargs), self.timer)
        others = {}
        for peer in self._peers(function, peer_table.LOSS_GRAD):
            t_peer, problem = self._run_peer(peer, scores, labels, ours, self.timer)
            if problem is not None:
                self._note(peer, scores.shape, "float32", problem)
            others[peer.library] = t_peer
        self.report.small.append((function, scores.shape, seconds, others))


def _fresh_process(code: str, env: dict | None = None) -> list:
    """Run ``code`` in a new interpreter and return the floats it prints."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"fresh process failed:\n{done.stderr}")
    return [float(x) for x in done.stdout.split()]


_IMPORT_CODE = """\
import time
t0 = time.perf_counter()
import numpy
t1 = time.perf_counter()
import fasthinge
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""

_FIRST_CALL_CODE = """\
import time
t0 = time.perf_counter()
import numpy as np
import fasthinge
t1 = time.perf_counter()
data = np.load({path!r})
scores, labels = data["scores"], data["labels"]
kwargs = {{k[3:]: data[k].item() if data[k].ndim == 0 else data[k] for k in data.files
          if k.startswith("kw_")}}
t2 = time.perf_counter()
fasthinge.{function}(scores, labels, **kwargs)
t3 = time.perf_counter()
print(t1 - t0 + t3 - t2)
"""


_FLOOR_MODULE = """\
import numba


@numba.njit(cache=True, nogil=True)
def dot(a, b):
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total
"""

_FLOOR_CODE = """\
import sys
import time
t0 = time.perf_counter()
import numpy as np
sys.path.insert(0, {folder!r})
import floor_module
a = np.ones(10, np.float32)
floor_module.dot(a, a)
print(time.perf_counter() - t0)
"""


#: Put before a fresh process's code: scipy as if not installed. Where scipy is
#: installed, Numba imports ``scipy.linalg`` when it first sets up its CPU target
#: (``numba.np.arraymath``'s module-level BLAS check), 0.2-0.3 s here; fasthinge's
#: own dependencies (numpy, numba) do not include scipy.
_WITHOUT_SCIPY = "import sys\nsys.modules['scipy'] = None\n"


def _numba_floor(tmp: str, repeat: int, prelude: str = "") -> float:
    """Seconds to Numba's own first result in a fresh process.

    That is ``import numpy``, ``import numba`` and the first call of a one-line
    ``@njit(cache=True)`` function whose cache is warm: what no Numba package beats.
    ``prelude`` runs first, untimed (``_WITHOUT_SCIPY``).
    """
    folder = Path(tmp) / "floor"
    folder.mkdir(exist_ok=True)
    (folder / "floor_module.py").write_text(_FLOOR_MODULE)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(folder / "cache"))
    code = prelude + _FLOOR_CODE.format(folder=str(folder))
    _fresh_process(code, env)  # compiles and fills the cache
    return float(np.median([_fresh_process(code, env)[0] for _ in range(repeat)]))


def _has_scipy() -> bool:
    return importlib.util.find_spec("scipy") is not None


def _startup(functions: list, cold: bool, repeat: int) -> list:
    """Lines about ``import fasthinge`` and the first result in a fresh process."""
    times = np.array([_fresh_process(_IMPORT_CODE) for _ in range(repeat)])
    numpy_s, own_s = np.median(times, axis=0)
    lines = [
        f"import fasthinge, fresh process: {_time_text(numpy_s + own_s)} "
        f"(import numpy {_time_text(numpy_s)} + fasthinge {_time_text(own_s)}; "
        f"median of {repeat})"
    ]
    caches = [("Numba cache warm", None)]
    if _has_scipy():
        caches.append(("Numba cache warm, scipy hidden as in fasthinge's own install", "bare"))
    if cold:
        caches.append(("cold: empty NUMBA_CACHE_DIR, compiles", "cold"))
    with tempfile.TemporaryDirectory(prefix="fasthinge-bench-") as tmp:
        for label, which in caches:
            cells = []
            for function in functions:
                kind = workload(function)[0]
                path = str(Path(tmp) / f"{function}.npz")
                scores, labels = make_inputs(kind, SMALL[kind], np.float32)
                kwargs = {f"kw_{k}": v for k, v in call_kwargs(function, scores, labels).items()}
                np.savez(path, scores=scores, labels=labels, **kwargs)
                env = None
                if which == "cold":
                    env = dict(os.environ, NUMBA_CACHE_DIR=tempfile.mkdtemp(dir=tmp))
                code = _FIRST_CALL_CODE.format(path=path, function=function)
                code = _WITHOUT_SCIPY + code if which == "bare" else code
                runs = 1 if which == "cold" else repeat  # a cold run compiles for seconds
                seconds = np.median([_fresh_process(code, env)[0] for _ in range(runs)])
                cells.append(f"{function} {_time_text(float(seconds))}")
            lines.append(f"first result, fresh process ({label}): " + ", ".join(cells))
        floor = _numba_floor(tmp, repeat)
        bare = _numba_floor(tmp, repeat, _WITHOUT_SCIPY) if _has_scipy() else None
    lines.append(
        "  (first result = import numpy + import fasthinge + first call on the small "
        "float32 input; excludes interpreter start-up; warm: the median of "
        f"{repeat} process{'es' if repeat > 1 else ''}, cold: one)"
    )
    lines.append(
        f"Numba's own floor, fresh process: {_time_text(floor)} (import numpy + import numba "
        f"+ first call of a one-line @njit(cache=True) function, its cache warm; median of "
        f"{repeat})"
    )
    if bare is not None:
        lines.append(
            f"  the same with scipy hidden: {_time_text(bare)} (Numba imports scipy.linalg "
            "for its BLAS check where scipy is installed; numpy and numba alone do not)"
        )
    return lines


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _physical_cores() -> int | None:
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return None
    cores, physical = set(), "0"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            physical = value.strip()
        elif key == "core id":
            cores.add((physical, value.strip()))
    return len(cores) or None


def _load() -> str:
    try:
        return f"; load average {os.getloadavg()[0]:.2f} at start"
    except (AttributeError, OSError):
        return ""


def _header(args: argparse.Namespace, n_threads: int, functions: list, dtypes: list) -> str:
    import numba

    import fasthinge

    versions = peer_table.versions()
    peers = ", ".join(
        f"{lib} {versions[lib]}" if versions[lib] else f"{lib} not installed"
        for lib in peer_table.LIBRARIES
        if lib != "numpy"
    )
    if args.no_peers:
        peers += " (--no-peers: not run)"
    cores = _physical_cores()
    sizes = "; ".join(
        f"{kind}: " + ", ".join(_shape_text(s) for s in shapes)
        for kind, shapes in SIZES[args.sizes].items()
        if any(workload(f)[0] == kind for f in functions)
    )
    return "\n".join(
        [
            f"fasthinge {fasthinge.__version__} benchmark (python -m fasthinge.bench, "
            f"--sizes {args.sizes})",
            f"machine : {_cpu_model()}; {cores or '?'} cores, {os.cpu_count()} logical CPUs; "
            f"{platform.system()} {platform.machine()}{_load()}",
            f"versions: Python {platform.python_version()}, numpy {np.__version__}, "
            f"numba {numba.__version__}; peers: {peers}",
            f"threads : {n_threads} (fasthinge n_threads, the Numba roofline, "
            "torch.set_num_threads; NumPy, scikit-learn and JAX use their defaults)",
            f"sizes   : {sizes}; dtype {', '.join(dtypes)}; labels int64",
            f"timing  : median of {TIMERS[args.sizes]['ours']['repeat']} rounds, each after its "
            "roofline's "
            f"(peers {TIMERS[args.sizes]['peer']['repeat']}), after a warm-up call",
        ]
    )


def _table(report: Report, libraries: list) -> str:
    head = ["function", "shape", "dtype", "pass", "time", "GB/s", "x roofline"]
    head += [f"vs {lib}" for lib in libraries]
    lines = [head]
    for r in report.rows:
        cells = [
            r.function,
            _shape_text(r.shape),
            r.dtype,
            r.mode,
            _time_text(r.seconds),
            f"{r.nbytes / r.seconds / 1e9:.1f}",
            f"{r.roof_ratio:.2f} {r.roof_kind}",
        ]
        for lib in libraries:
            if lib not in r.speedups:
                cells.append("-")
                continue
            ratio, problem = r.speedups[lib]
            text = "error" if ratio is None else f"{ratio:.3g}x"
            cells.append(text + ("!" if problem else ""))
        lines.append(cells)
    return _columns(lines, left=4)


def _columns(lines: list, left: int) -> str:
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(lines[0]))]
    out = []
    for line in lines:
        cells = [
            str(c).ljust(w) if i < left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def _small_table(report: Report, libraries: list) -> str:
    libraries = [lib for lib in libraries if any(lib in s[3] for s in report.small)]
    lines = [["function", "shape", "fasthinge", *libraries]]
    for function, shape, seconds, others in report.small:
        cells = [function, _shape_text(shape), _time_text(seconds)]
        for lib in libraries:
            t = others.get(lib)
            cells.append("-" if t is None else _time_text(t))
        lines.append(cells)
    return _columns(lines, left=2)


LEGEND = """\
time: median of one call. GB/s: (scores + labels read, gradient written) / time.
x roofline: time / time of a parallel Numba pass over the same bytes with the same threads
  (copy: scores copied into a gradient-sized buffer + labels read; read: scores + labels read;
  one thread below fasthinge's serial-driver threshold); 1.00 = as fast as a memory copy.
  Each round times the roofline and then the pass, back to back; the column is the median
  of the rounds' ratios (a slow spell of a shared machine slows both).
grad->out: into out= from fasthinge.empty_gradient(scores) (the copy writes into it too).
grad: no out=, the gradient is returned. fasthinge hands a gradient of 4 MiB or more that
  nothing references any more out again (fasthinge.release_buffers), so a loop that drops
  each step's gradient stops faulting in new pages after two calls; the peers allocate theirs.
vs <peer>: peer time / fasthinge time (>1: fasthinge faster). 'grad' rows are compared with
  the peers' loss+gradient (a new gradient each call), 'loss' rows with their loss-only call;
  '-': no such peer; '!': the peer's result differs from fasthinge's (listed below)."""


def main(argv: list | None = None) -> int:
    """Run the benchmark and print its report.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``); ``--help`` lists them.

    Returns
    -------
    int
        The exit status: 0, or 1 when a peer disagreed with fasthinge or failed.
    """
    parser = argparse.ArgumentParser(
        prog="python -m fasthinge.bench",
        description="Time every fasthinge function against the memory roofline and its "
        "installed peers (NumPy, PyTorch, scikit-learn, JAX), in one run.",
    )
    parser.add_argument("--sizes", choices=list(SIZES), default="full", help="size preset")
    parser.add_argument(
        "--quick", dest="sizes", action="store_const", const="quick", help="= --sizes quick"
    )
    parser.add_argument(
        "--tiny", dest="sizes", action="store_const", const="tiny", help="= --sizes tiny (smoke)"
    )
    parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="float32")
    parser.add_argument("--threads", type=int, default=None, help="default: Numba's setting")
    parser.add_argument("--functions", nargs="+", choices=list(FUNCTIONS), default=list(FUNCTIONS))
    parser.add_argument("--no-peers", action="store_true", help="NumPy baselines only")
    parser.add_argument(
        "--cold",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time a first call that compiles (default: with --sizes full)",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    import numba

    n_threads = numba.get_num_threads() if args.threads is None else args.threads
    if not 1 <= n_threads <= numba.config.NUMBA_NUM_THREADS:
        parser.error(f"--threads must be in [1, {numba.config.NUMBA_NUM_THREADS}]")
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    functions = args.functions
    cold = args.sizes == "full" if args.cold is None else args.cold

    print(_header(args, n_threads, functions, dtypes), flush=True)
    bench = _Bench(args, n_threads)
    kinds = {workload(f)[0]: None for f in functions}  # ordered, unique
    groups = [
        (dtype, kind, shape)
        for dtype in dtypes
        for kind in kinds
        for shape in SIZES[args.sizes][kind]
    ]
    per_kind = {kind: sum(workload(f)[0] == kind for f in functions) for kind in kinds}
    total = sum(1 + per_kind[kind] for _, kind, _ in groups) + len(functions) + 1
    progress = _Progress(total, not args.no_progress)
    for dtype, kind, shape in groups:
        progress.start(f"inputs + roofline {_shape_text(shape)} {dtype}")
        scores, labels = make_inputs(kind, shape, dtype)
        roof = bench.roofline(scores, labels)
        progress.done()
        for function in (f for f in functions if workload(f)[0] == kind):
            progress.start(f"{function} {_shape_text(shape)} {dtype}")
            bench.measure(function, scores, labels, roof)
            progress.done()
        del scores, labels, roof
    for function in functions:
        progress.start(f"small call {function}")
        bench.small_call(function)
        progress.done()
    progress.start("fresh processes")
    rounds, first_results = STARTUP[args.sizes]
    startup = _startup(functions[:first_results], cold, repeat=rounds)
    progress.done()
    progress.close()

    order = {f: i for i, f in enumerate(functions)}
    bench.report.rows.sort(key=lambda r: (dtypes.index(r.dtype), order[r.function]))
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel region ran
        layer = "not started"
    print(f"\n{_table(bench.report, bench.libraries)}\n")
    print(LEGEND)
    print(f"Numba threading layer: {layer}\n")
    print("small calls, end to end (float32, new gradient each call):")
    print(_small_table(bench.report, bench.libraries) + "\n")
    print("\n".join(startup))
    if bench.report.problems:
        print("\nPEER PROBLEMS:")
        print("\n".join(f"  {p}" for p in bench.report.problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
