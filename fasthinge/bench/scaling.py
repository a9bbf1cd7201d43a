"""``python -m fasthinge.bench.scaling``: time against size, from 10³ to 10⁸ elements.

Is a call a fixed cost plus a constant cost per element, from a tiny batch to one
that fills main memory? For each series (a function at a fixed number of
classes, the binary hinge, and the copy roofline of the C = 10 shapes) it times
one float32 call into ``out=`` at sizes 10³, 3·10³, …, up to ``--max-elements``,
prints the times, and fits ``t = a + b·elements`` (least squares on the relative
error): ``a`` is the per-call cost (validation, dispatch, a parallel launch),
``b`` the cost of an element. It also prints the slope of log t against log
elements from 10⁵ elements on, where ``a`` is under a few per cent: 1.00 means
linear. ``--plot PATH`` draws the log-log plot of the docs' performance page.

Each call is ``f(scores, labels, out=out)`` as a user writes it (a small batch
takes the small path), timed as ``python -m fasthinge.bench`` times them
(``timing.median_seconds``), with Numba's thread count set to ``--threads``.
The roofline is a parallel Numba copy of the scores into the gradient buffer
plus a read of the labels (on one thread below ``PARALLEL_MIN_ELEMENTS``, where
fasthinge runs serially).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

import numpy as np

from .timing import median_seconds, numba_threads

#: Series: label -> (function, kind of input, classes or None for binary).
SERIES = {
    "weston_watkins, C = 10": ("weston_watkins", "multiclass", 10),
    "crammer_singer, C = 10": ("crammer_singer", "multiclass", 10),
    "weston_watkins, C = 1000": ("weston_watkins", "multiclass", 1000),
    "binary_hinge": ("binary_hinge", "binary", None),
    "copy roofline, C = 10": (None, "multiclass", 10),
}
#: The fit of the log-log slope starts here (the per-call cost is small above).
SLOPE_FROM = 10**5


@dataclass
class Series:
    """The times of one series: ``elements[i]`` took ``seconds[i]``."""

    label: str
    elements: list = field(default_factory=list)
    seconds: list = field(default_factory=list)


def sizes(max_elements: int) -> list:
    """10³, 3·10³, 10⁴, … up to ``max_elements`` (included when it is one of them).

    Examples
    --------
    >>> sizes(10**5)
    [1000, 3000, 10000, 30000, 100000]
    """
    out, decade = [], 1000
    while decade <= max_elements:
        out += [n for n in (decade, 3 * decade) if n <= max_elements]
        decade *= 10
    return out


def fit_linear(elements: np.ndarray, seconds: np.ndarray) -> tuple:
    """``(a, b, worst)``: ``t ≈ a + b·n`` fitted on the relative error; ``worst`` its largest.

    Parameters
    ----------
    elements, seconds : array_like
        Sizes and their times.

    Returns
    -------
    a : float
        Seconds per call.
    b : float
        Seconds per element.
    worst : float
        The largest ``|fit − t| / t``.

    Examples
    --------
    >>> import numpy as np
    >>> n = np.array([1e3, 1e5, 1e7])
    >>> a, b, worst = fit_linear(n, 5e-6 + 2e-9 * n)
    >>> round(a * 1e6, 6), round(b * 1e9, 6), worst < 1e-9
    (5.0, 2.0, True)
    """
    n, t = np.asarray(elements, float), np.asarray(seconds, float)
    design = np.stack([np.ones_like(n), n], axis=1) / t[:, None]
    (a, b), *_ = np.linalg.lstsq(design, np.ones_like(t), rcond=None)
    worst = float(np.max(np.abs(a + b * n - t) / t))
    return float(a), float(b), worst


def log_slope(elements: np.ndarray, seconds: np.ndarray, start: int = SLOPE_FROM) -> float:
    """Slope of log t against log n over the sizes ``>= start`` (NaN with fewer than two).

    Examples
    --------
    >>> import numpy as np
    >>> n = np.array([1e5, 1e6, 1e7])
    >>> round(log_slope(n, 3e-9 * n), 6)
    1.0
    """
    n, t = np.asarray(elements, float), np.asarray(seconds, float)
    keep = n >= start
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(n[keep]), np.log(t[keep]), 1)[0])


def time_series(label: str, elements: list, n_threads: int, timer: dict) -> Series:
    """Time one series of ``SERIES`` at each size of ``elements``."""
    function, kind, n_classes = SERIES[label]
    series = Series(label)
    for n in elements:
        shape = (n,) if n_classes is None else (max(1, n // n_classes), n_classes)
        series.elements.append(int(np.prod(shape)))
        series.seconds.append(_time_one(function, kind, shape, n_threads, timer))
    return series


def _time_one(function: str | None, kind: str, shape: tuple, n_threads: int, timer: dict) -> float:
    """Median seconds of one call of ``function`` (``None``: the copy roofline) on ``shape``."""
    import fasthinge

    from .._threading import PARALLEL_MIN_ELEMENTS
    from .__main__ import make_inputs
    from ._copy import parallel_copy, parallel_read

    scores, labels = make_inputs(kind, shape, np.float32)
    out = np.empty_like(scores)
    if function is not None:  # as a user calls it: a small batch takes the small path
        func = getattr(fasthinge, function)
        with numba_threads(n_threads):
            return median_seconds(lambda: func(scores, labels, out=out), **timer)
    flat_scores, flat_out = scores.reshape(-1), out.reshape(-1)

    def copy() -> None:
        parallel_copy(flat_scores, flat_out)
        parallel_read(labels)

    # one thread where fasthinge runs its serial driver (as python -m fasthinge.bench)
    with numba_threads(n_threads if scores.size >= PARALLEL_MIN_ELEMENTS else 1):
        return median_seconds(copy, **timer)


def table(all_series: list) -> str:
    """The times (µs) at each size, then each series' fit."""
    sizes_seen = sorted({n for s in all_series for n in s.elements})
    width = max(len(s.label) for s in all_series)
    head = f"{'elements':>{width}}  " + "  ".join(f"{n:>9.0e}" for n in sizes_seen)
    lines = [head.replace("e+0", "e")]
    for title, scale in (
        ("time (µs)", lambda t, n: t * 1e6),
        ("ns per element", lambda t, n: t * 1e9 / n),
    ):
        lines.append(title)
        for s in all_series:
            by_size = dict(zip(s.elements, s.seconds, strict=True))
            cells = [
                f"{scale(by_size[n], n):9.4g}" if n in by_size else f"{'-':>9}" for n in sizes_seen
            ]
            lines.append(f"{s.label:>{width}}  " + "  ".join(cells))
    lines.append("")
    lines.append(
        "fit t = a + b·elements (relative least squares); slope of log t vs log elements "
        f"from 10^{round(np.log10(SLOPE_FROM))} elements"
    )
    for s in all_series:
        a, b, worst = fit_linear(s.elements, s.seconds)
        slope = log_slope(s.elements, s.seconds)
        lines.append(
            f"{s.label:>{width}}  a = {a * 1e6:7.2f} µs  b = {b * 1e9:6.3f} ns/element  "
            f"worst fit error {worst:5.1%}  slope {slope:.3f}"
        )
    return "\n".join(lines)


def plot(all_series: list, path: str) -> None:
    """The log-log plot of time against elements (PNG at ``path``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, per) = plt.subplots(1, 2, figsize=(9.6, 3.8), dpi=80)
    for s in all_series:
        style = "--" if s.label.startswith("copy") else "-"
        n, t = np.array(s.elements), np.array(s.seconds)
        ax.loglog(n, t * 1e6, style, marker="o", ms=3, label=s.label)
        per.semilogx(n, t * 1e9 / n, style, marker="o", ms=3)
    n = np.array(
        [min(min(s.elements) for s in all_series), max(max(s.elements) for s in all_series)]
    )
    ax.loglog(n, n * 1e-3, ":", color="grey", lw=0.8, label="1 ns per element")
    ax.set_ylabel("time of one call (µs)")
    per.set_ylabel("ns per element")
    per.set_yscale("log")
    for axis in (ax, per):
        axis.set_xlabel("elements (N·C), float32")
        axis.grid(True, which="major", lw=0.4)
    fig.suptitle("fasthinge: loss + gradient into out=, against size (flat right = linear)",
                 fontsize=10)  # fmt: skip
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def main(argv: list | None = None) -> int:
    """Time every series of ``SERIES`` and print the table (and draw the plot).

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status (0).
    """
    parser = argparse.ArgumentParser(prog="python -m fasthinge.bench.scaling",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--max-elements", type=float, default=1e8)
    parser.add_argument("--threads", type=int, default=None, help="default: Numba's setting")
    parser.add_argument("--plot", default=None, help="write the log-log plot (PNG) here")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per size (median)")
    args = parser.parse_args(argv)

    import numba

    n_threads = numba.get_num_threads() if args.threads is None else args.threads
    elements = sizes(int(args.max_elements))
    timer = {"repeat": args.repeat, "min_time": 0.05}
    print(f"fasthinge scaling: float32, out=, {n_threads} threads, median of {args.repeat} "
          f"rounds; numpy {np.__version__}, numba {numba.__version__}", flush=True)  # fmt: skip
    all_series = []
    for label in SERIES:
        print(f"  timing {label} ...", file=sys.stderr, flush=True)
        all_series.append(time_series(label, elements, n_threads, timer))
    print(table(all_series))
    if args.plot:
        plot(all_series, args.plot)
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
