"""The main job: train linear SVMs with fasthinge, against scikit-learn.

Run ``python -m fasthinge.demo`` (``--help`` for options; needs
``pip install "fasthinge[demo]"``). It trains a Crammer–Singer linear SVM
(:class:`fasthinge.linear.LinearSVM`, minibatch SGD on the fused kernels) on

1. scikit-learn's digits (1797 images, 64 features, 10 classes), and
2. a large synthetic problem (Gaussian class means plus unit noise, generated
   from a fixed seed; ``--size`` training samples, 100 features, 20 classes),

and ``sklearn.svm.LinearSVC(multi_class="crammer_singer")`` and
``sklearn.linear_model.SGDClassifier(loss="hinge")`` with the same
regularisation (``C = 1/(alpha·N)`` for LinearSVC). It prints training time,
the time fasthinge needs to reach each peer's test accuracy (test
evaluations excluded from the clock), test accuracy and the final
objective ``alpha/2·‖W‖² + mean hinge`` of each model's own loss
(Crammer–Singer; one-vs-all for SGDClassifier; in float64, on the training
set), and writes the loss curves to ``fasthinge_demo_loss.png``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import fasthinge as fh

#: Regularisation of every model (LinearSVC: C = 1 / (ALPHA · N)).
ALPHA = 1e-3
N_FEATURES, N_CLASSES, SEPARATION = 100, 20, 0.35


@dataclass
class Result:
    """One trained model: its times, accuracy, objective and curves."""

    method: str
    fit_s: float
    accuracy: float
    objective: float
    curve: list = field(default_factory=list)  # (seconds, objective, test accuracy) per epoch
    to_target: dict = field(default_factory=dict)  # peer name -> seconds to its accuracy
    loss: str = "crammer_singer"  # the loss of the objective column


def make_problem(n_train: int, n_test: int, seed: int = 0) -> tuple:
    """Synthetic problem: class means ``N(0, 0.35²)`` in 100-D plus unit Gaussian noise (float32).

    Returns ``(X_train, y_train, X_test, y_test)``; the same seed gives the same data.
    """
    rng = np.random.default_rng(seed)
    means = SEPARATION * rng.standard_normal((N_CLASSES, N_FEATURES))
    y = rng.integers(0, N_CLASSES, n_train + n_test)
    X = means[y].astype(np.float32)
    X += rng.standard_normal(X.shape, dtype=np.float32)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def digits() -> tuple:
    """scikit-learn's digits, pixels scaled to [0, 1], 70/30 split (fixed)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        (X / 16.0).astype(np.float32), y, test_size=0.3, random_state=0, stratify=y
    )
    return X_tr, y_tr, X_te, y_te


def objective(
    coef: np.ndarray, intercept: np.ndarray, X: np.ndarray, y: np.ndarray, loss: str
) -> float:
    """``ALPHA/2·‖W‖² + mean hinge`` of a (C, D) model, in float64.

    ``loss`` is ``"crammer_singer"`` or ``"one_vs_all"`` (Σ over classes of the
    binary hinges: what ``SGDClassifier(loss="hinge")`` minimises, class by class).
    """
    W = np.asarray(coef, np.float64).T
    scores = X.astype(np.float64) @ W + np.asarray(intercept, np.float64)
    value = getattr(fh, loss)(scores, y, return_grad=False)
    return float(value) + 0.5 * ALPHA * float(np.vdot(W, W))


def fit_peer(name: str, data: tuple) -> Result:
    """Fit one scikit-learn peer with the same regularisation and time it."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier
    from sklearn.svm import LinearSVC

    X_tr, y_tr, X_te, y_te = data
    if name == "LinearSVC":
        model: Any = LinearSVC(
            multi_class="crammer_singer", C=1.0 / (ALPHA * X_tr.shape[0]), random_state=0
        )
    else:
        model = SGDClassifier(loss="hinge", alpha=ALPHA, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X_tr, y_tr)
        seconds = time.perf_counter() - start
    loss = "crammer_singer" if name == "LinearSVC" else "one_vs_all"
    return Result(
        name, seconds, float(model.score(X_te, y_te)),
        objective(model.coef_, model.intercept_, X_tr, y_tr, loss), loss=loss,
    )  # fmt: skip


def fit_fasthinge(data: tuple, targets: dict, max_iter: int = 100) -> Result:
    """Fit LinearSVM, evaluating the test accuracy after each epoch (off the clock)."""
    from .linear import LinearSVM

    X_tr, y_tr, X_te, y_te = data
    curve: list = []
    to_target: dict = {}
    clock = {"start": 0.0, "paused": 0.0}

    def callback(model: Any, epoch: int) -> bool:
        pause = time.perf_counter()
        elapsed = pause - clock["start"] - clock["paused"]
        accuracy = float(model.score(X_te, y_te))
        curve.append((elapsed, model.objective_curve_[-1], accuracy))
        for name, target in targets.items():
            if accuracy >= target and name not in to_target:
                to_target[name] = elapsed
        clock["paused"] += time.perf_counter() - pause
        return False

    model = LinearSVM(alpha=ALPHA, max_iter=max_iter, random_state=0, callback=callback)
    clock["start"] = time.perf_counter()
    model.fit(X_tr, y_tr)
    seconds = time.perf_counter() - clock["start"] - clock["paused"]
    return Result(
        "fasthinge LinearSVM", seconds, float(model.score(X_te, y_te)),
        objective(model.coef_, model.intercept_, X_tr, y_tr, "crammer_singer"), curve, to_target,
    )  # fmt: skip


def _median(runs: list) -> Result:
    """The run of median training time (its curve is plotted), with median times to target.

    The fits are deterministic, so accuracies and objectives are the same in every run.
    """
    middle = sorted(runs, key=lambda r: r.fit_s)[len(runs) // 2]
    middle.fit_s = float(np.median([r.fit_s for r in runs]))
    for name in middle.to_target:
        middle.to_target[name] = float(np.median([r.to_target.get(name, np.inf) for r in runs]))
    return middle


def run_problem(title: str, data: tuple, peers: bool = True, repeat: int = 1) -> list:
    """Fit the peers, then fasthinge with the peers' accuracies as targets; print the table.

    With ``repeat > 1`` the three fits run back to back ``repeat`` times and
    every time is the median over the runs.
    """
    X_tr, _, X_te, _ = data
    median = f"; times are medians of {repeat} runs" if repeat > 1 else ""
    print(f"\n{title}: {X_tr.shape[0]} train / {X_te.shape[0]} test samples, "
          f"{X_tr.shape[1]} features, alpha={ALPHA:g}{median}", flush=True)  # fmt: skip
    names = ("LinearSVC", "SGDClassifier") if peers else ()
    runs: dict = {name: [] for name in (*names, "ours")}
    for _ in range(repeat):
        for name in names:
            runs[name].append(fit_peer(name, data))
        targets = {name: runs[name][-1].accuracy for name in names}
        runs["ours"].append(fit_fasthinge(data, targets))
    results = [_median(runs[name]) for name in (*names, "ours")]
    ours = results[-1]
    best = f" (best {max(a for _, _, a in ours.curve):.5f})" if ours.curve else ""
    print(f"{'method':<22} {'train s':>9} {'test acc':>9} {'objective':>10} {'(loss)':<16} "
          "time to reach the peer's test accuracy")  # fmt: skip
    for r in results:
        reach = ""
        if r is ours:
            reach = ", ".join(
                f"{name} acc: {ours.to_target[name]:.2f} s "
                f"({next(p.fit_s for p in results if p.method == name) / ours.to_target[name]:.1f}x"
                " faster)"
                if name in ours.to_target
                else f"{name} acc: not reached{best}"
                for name in (p.method for p in results if p is not ours)
            )
        print(f"{r.method:<22} {r.fit_s:>9.2f} {r.accuracy:>9.4f} {r.objective:>10.5f} "
              f"{'(' + r.loss + ')':<16} {reach}")  # fmt: skip
    return results


def plot(problems: list, path: str) -> None:
    """Objective and test accuracy of fasthinge per epoch (against time), peers as markers."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(problems), 2, figsize=(10, 3.6 * len(problems)), squeeze=False)
    for (title, results), (ax_obj, ax_acc) in zip(problems, axes, strict=True):
        ours = results[-1]
        t, obj, acc = (np.array(c) for c in zip(*ours.curve, strict=True))
        ax_obj.plot(t, obj, "o-", ms=3, label="fasthinge LinearSVM (SGD, per epoch)")
        ax_acc.plot(t, acc, "o-", ms=3, label="fasthinge LinearSVM")
        for r, color in zip(results[:-1], ("C1", "C2"), strict=False):
            if r.loss == ours.loss:
                ax_obj.plot([r.fit_s], [r.objective], "s", color=color, label=f"{r.method} (end)")
            ax_acc.plot([r.fit_s], [r.accuracy], "s", color=color, label=r.method)
            ax_acc.axhline(r.accuracy, color=color, lw=0.8, ls="--")
        ax_obj.set(xscale="log", yscale="log", xlabel="training time (s)",
                   ylabel="objective", title=f"{title}: objective")  # fmt: skip
        ax_acc.set(xscale="log", xlabel="training time (s)", ylabel="test accuracy",
                   title=f"{title}: test accuracy")  # fmt: skip
        accuracies = [*acc, *(r.accuracy for r in results)]
        ax_acc.set_ylim(max(min(accuracies) - 0.01, 0.0), min(1.0, max(accuracies) + 0.01))
        for ax in (ax_obj, ax_acc):
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    """Run the demo: digits, the synthetic problem, the table and the plot."""
    parser = argparse.ArgumentParser(
        prog="python -m fasthinge.demo", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("--size", type=float, default=1e5,
                        help="training samples of the synthetic problem (default 1e5)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="tiny synthetic problem (a smoke test: 2000 samples)")  # fmt: skip
    parser.add_argument("--no-peers", action="store_true", help="skip LinearSVC and SGDClassifier")
    parser.add_argument("--repeat", type=int, default=1,
                        help="fit everything N times, back to back; median times")  # fmt: skip
    parser.add_argument("--plot", default="fasthinge_demo_loss.png", help="where to write the PNG")
    args = parser.parse_args(argv)
    import numba
    import sklearn

    n_train = 2000 if args.quick else int(args.size)
    if n_train < 100:
        parser.error(f"--size must be at least 100, got {args.size}")
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    print(
        f"fasthinge {fh.__version__}, numba {numba.__version__}, numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs ({platform.machine()}), load average {load[0]:.2f}"
    )
    start = time.perf_counter()
    with warnings.catch_warnings():  # compile the kernels, or load them from Numba's cache
        warnings.simplefilter("ignore")
        fit_fasthinge(make_problem(500, 10, seed=1), {}, max_iter=2)
    print(f"kernels compiled or loaded from Numba's cache in {time.perf_counter() - start:.1f} s"
          " (not counted below)")  # fmt: skip
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    peers = not args.no_peers
    problems = [("digits", run_problem("digits", digits(), peers, args.repeat))]
    synthetic = make_problem(n_train, max(n_train // 4, 100))
    problems.append(("synthetic", run_problem("synthetic", synthetic, peers, args.repeat)))
    plot(problems, args.plot)
    print(f"\nloss curves written to {args.plot}")


if __name__ == "__main__":
    main()
