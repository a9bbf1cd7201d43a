"""Draw the loss gallery: every loss and its subgradient, computed by fasthinge itself.

Usage (from the repository root)::

    python docs/plots.py            # writes docs/img/*.png
    python docs/plots.py --check    # also fails if a PNG is over 60 KB or not 600×300

Nothing here re-implements a formula: every curve is a call to a fasthinge
function with ``reduction="none"`` (the row losses and the gradient of their
sum, i.e. each row's own gradient), evaluated on a grid that contains the
kinks exactly.

* Binary losses are drawn against the margin ``z = t·f`` (``t = +1``, so
  ``dℓ/df = dℓ/dz``).
* Multiclass losses are drawn against the true score ``s_y`` (class 0 of
  ``C = 4``), the three other scores fixed; the right panel is ``∂ℓ/∂s_y``.
* Where a hinge has a kink, its value under ``kink="zero"`` (●, the default),
  ``"half"`` (◆) and ``"full"`` (▲) is marked.

The PNGs are deterministic (no timestamp or version in their metadata).
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

DOCS = pathlib.Path(__file__).resolve().parent
if importlib.util.find_spec("fasthinge") is None:  # run from a clone without installing it
    sys.path.insert(0, str(DOCS.parent))
import fasthinge as fh  # noqa: E402

IMG = DOCS / "img"
#: Margins z = t·f (binary) and true scores s_y (multiclass): multiples of 1/200, so
#: every kink used below (0, ±1, 0.5, 1.25, 1.5, ...) is a grid point.
GRID = np.arange(-600, 601) / 200
#: The three fixed wrong scores of the multiclass plots (C = 4, true class 0).
OTHERS = (0.5, 0.0, -0.5)
#: All negative: where Keras' categorical hinge differs from Crammer–Singer.
NEGATIVE_OTHERS = (-0.5, -1.0, -1.5)
KINK_MARKERS = (("zero", "o"), ("half", "D"), ("full", "^"))
SIZE = (6.0, 3.0)  # inches at 100 dpi: 600×300 pixels
MAX_BYTES = 60_000


def binary(fn, **kw):
    """``(loss, dℓ/dz)`` of a binary fasthinge loss on the margins ``GRID`` (t = +1)."""
    return fn(GRID, np.ones(GRID.size), reduction="none", **kw)


def multiclass(fn, *args, others=OTHERS, labels=None, at=GRID, **kw):
    """``(loss, ∂ℓ/∂s_y)`` of a multiclass loss as the true score ``s_y`` runs over ``at``."""
    scores = np.empty((at.size, 1 + len(others)))
    scores[:, 0] = at
    scores[:, 1:] = others
    y = np.zeros(at.size, dtype=np.int64) if labels is None else labels(at.size)
    loss, grad = fn(scores, y, *args, reduction="none", **kw)
    return loss, grad[:, 0]


def figure(title):
    """A 600×300 figure with the loss (left) and its subgradient (right)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=SIZE, dpi=100)
    for ax in (left, right):
        ax.grid(True, linewidth=0.4, alpha=0.5)
        ax.tick_params(labelsize=7)
        ax.axhline(0, color="0.6", linewidth=0.6)
        ax.axvline(0, color="0.6", linewidth=0.6)
    fig.suptitle(title, fontsize=9)
    return fig, left, right


def label_axes(left, right, xlabel, gradlabel, right_legend="best"):
    """Axis labels and legends of one figure."""
    left.set_xlabel(xlabel, fontsize=8)
    right.set_xlabel(xlabel, fontsize=8)
    left.set_ylabel("loss", fontsize=8)
    right.set_ylabel(gradlabel, fontsize=8)
    for ax, loc in ((left, "best"), (right, right_legend)):
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize=6.5, loc=loc, framealpha=0.85)


#: A change of the subgradient between two grid points larger than this is a jump (the
#: continuous pieces drawn here change by at most 0.01 per grid step).
JUMP = 0.05


def draw_step(ax, x, y, **kw):
    """A subgradient, without vertical connectors at its jumps (kinks)."""
    y = np.asarray(y, dtype=float).copy()
    jumps = np.flatnonzero(np.abs(np.diff(y)) > JUMP) + 1
    y_plot = np.insert(y, jumps, np.nan)
    x_plot = np.insert(x, jumps, np.nan)
    ax.plot(x_plot, y_plot, **kw)


def mark_kinks(ax, at, gradient_of, color, label=True):
    """Mark the value of the subgradient at a kink under each ``kink=`` convention."""
    for kink, marker in KINK_MARKERS:
        value = gradient_of(kink)
        ax.plot(
            [at],
            [value],
            marker=marker,
            color=color,
            markersize=4.5,
            linestyle="none",
            markerfacecolor="white" if kink != "zero" else color,
            label=f'kink="{kink}"' if label else None,
        )


def at_kink(fn, z, *args, **kw):
    """A function ``kink -> dℓ/dz`` at margin ``z`` for a binary loss."""
    return lambda kink: float(
        fn(np.array([z]), np.ones(1), *args, reduction="none", kink=kink, **kw)[1][0]
    )


def at_kink_multiclass(fn, s_y, *args, others=OTHERS, **kw):
    """A function ``kink -> ∂ℓ/∂s_y`` at true score ``s_y`` for a multiclass loss."""

    def gradient(kink):
        return float(
            multiclass(fn, *args, others=others, at=np.array([s_y]), kink=kink, **kw)[1][0]
        )

    return gradient


def save(fig, name):
    """Write ``img/<name>.png`` (600×300, no volatile metadata)."""
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    path = IMG / f"{name}.png"
    fig.savefig(path, dpi=100, metadata={"Software": None}, pil_kwargs={"optimize": True})
    plt.close(fig)
    return path


def plot_binary_hinge():
    """The hinge and the squared hinge."""
    fig, left, right = figure("binary_hinge: max(0, 1 − z)^p, z = t·f")
    for p, color in ((1, "C0"), (2, "C1")):
        loss, grad = binary(fh.binary_hinge, p=p)
        left.plot(GRID, loss, color=color, label=f"p={p}")
        if p == 1:  # a step: no vertical line at the jump
            draw_step(right, GRID, grad, color=color, label=f"p={p}")
        else:
            right.plot(GRID, grad, color=color, label=f"p={p}")
    mark_kinks(right, 1.0, at_kink(fh.binary_hinge, 1.0), "C0")
    left.set_ylim(-0.3, 6)
    label_axes(left, right, "z = t·f", "dℓ/dz")
    return save(fig, "binary_hinge")


def plot_perceptron():
    """The perceptron loss, with the hinge for comparison."""
    fig, left, right = figure("perceptron: max(0, −z), z = t·f")
    loss, grad = binary(fh.perceptron)
    left.plot(GRID, loss, color="C0", label="perceptron")
    hinge = binary(fh.binary_hinge)[0]
    left.plot(GRID, hinge, color="0.5", linestyle=":", label="binary_hinge (m=1)")
    draw_step(right, GRID, grad, color="C0")
    mark_kinks(right, 0.0, at_kink(fh.perceptron, 0.0), "C0")
    label_axes(left, right, "z = t·f", "dℓ/dz")
    return save(fig, "perceptron")


def plot_smooth_hinge():
    """The smoothed hinge for three widths γ."""
    fig, left, right = figure("smooth_hinge: quadratic on 1 − γ < z < 1")
    hinge = binary(fh.binary_hinge)[0]
    left.plot(GRID, hinge, color="0.5", linestyle=":", label="hinge (γ → 0)")
    for gamma, color in ((0.5, "C2"), (1.0, "C0"), (2.0, "C1")):
        loss, grad = binary(fh.smooth_hinge, gamma=gamma)
        name = "γ=1 (Rennie–Srebro)" if gamma == 1.0 else f"γ={gamma:g}"
        left.plot(GRID, loss, color=color, label=name)
        right.plot(GRID, grad, color=color, label=name)
    left.set_ylim(-0.3, 4)
    label_axes(left, right, "z = t·f", "dℓ/dz (continuous)")
    return save(fig, "smooth_hinge")


def plot_modified_huber():
    """scikit-learn's modified Huber loss."""
    fig, left, right = figure("modified_huber = 4·smooth_hinge(γ=2)")
    loss, grad = binary(fh.modified_huber)
    left.plot(GRID, loss, color="C0", label="modified_huber")
    four = 4 * binary(fh.smooth_hinge, gamma=2.0)[0]
    left.plot(GRID, four, color="C1", linestyle="--", linewidth=0.9, label="4·smooth_hinge(γ=2)")
    left.plot(
        GRID, binary(fh.binary_hinge, p=2)[0], color="0.5", linestyle=":", label="squared hinge"
    )
    right.plot(GRID, grad, color="C0", label="modified_huber")
    left.set_ylim(-0.5, 12.5)
    label_axes(left, right, "z = t·f", "dℓ/dz (continuous)")
    return save(fig, "modified_huber")


def plot_hinge_embedding():
    """PyTorch's hinge embedding loss, per target value."""
    fig, left, right = figure("hinge_embedding: x (t=1), max(0, 1 − x) (t=−1), both (other t)")
    for t, color in ((1, "C0"), (-1, "C1"), (0, "C2")):
        loss, grad = fh.hinge_embedding(GRID, np.full(GRID.size, t), reduction="none")
        left.plot(GRID, loss, color=color, label=f"t={t}")
        draw_step(right, GRID, grad, color=color, label=f"t={t}")

    def gradient(kink):
        return float(
            fh.hinge_embedding(
                np.array([1.0]),
                [-1],
                reduction="none",
                kink=kink,
            )[1][0]
        )

    for kink, marker in KINK_MARKERS:
        right.plot(
            [1.0],
            [gradient(kink)],
            marker=marker,
            color="C1",
            markersize=4.5,
            linestyle="none",
            markerfacecolor="white" if kink != "full" else "C1",
            label=f'kink="{kink}"' + (" (default)" if kink == "full" else ""),
        )
    label_axes(left, right, "x (a distance)", "dℓ/dx")
    return save(fig, "hinge_embedding")


def plot_binary_overview():
    """Every binary loss on one pair of axes."""
    fig, left, right = figure("Binary losses against the margin z = t·f")
    curves = (
        ("hinge", fh.binary_hinge, {}, "C0"),
        ("squared hinge", fh.binary_hinge, {"p": 2}, "C1"),
        ("perceptron", fh.perceptron, {}, "C2"),
        ("smooth_hinge γ=1", fh.smooth_hinge, {"gamma": 1.0}, "C3"),
        ("modified_huber", fh.modified_huber, {}, "C4"),
    )
    for name, fn, kw, color in curves:
        loss, grad = binary(fn, **kw)
        left.plot(GRID, loss, color=color, label=name, linewidth=1.1)
        draw_step(right, GRID, grad, color=color, label=name, linewidth=1.1)
    left.set_ylim(-0.3, 6)
    right.set_ylim(-4.5, 0.5)
    label_axes(left, right, "z = t·f", "dℓ/dz")
    return save(fig, "binary_overview")


def plot_weston_watkins():
    """Weston–Watkins, with and without the division by C."""
    fig, left, right = figure(f"weston_watkins, other scores {OTHERS}")
    for normalize, color in ((False, "C0"), (True, "C1")):
        loss, grad = multiclass(fh.weston_watkins, normalize=normalize)
        name = "normalize=False (CS231n)" if not normalize else "normalize=True (÷C, PyTorch)"
        left.plot(GRID, loss, color=color, label=name)
        draw_step(right, GRID, grad, color=color)
    for s_y in (0.5, 1.0, 1.5):
        gradient = at_kink_multiclass(fh.weston_watkins, s_y, normalize=False)
        mark_kinks(right, s_y, gradient, "C0", label=s_y == 0.5)
    label_axes(left, right, "true score s_y", "∂ℓ/∂s_y", right_legend="lower right")
    return save(fig, "weston_watkins")


def plot_crammer_singer():
    """Crammer–Singer, p = 1 and 2."""
    fig, left, right = figure(f"crammer_singer, other scores {OTHERS}")
    for p, color in ((1, "C0"), (2, "C1")):
        loss, grad = multiclass(fh.crammer_singer, p=p)
        left.plot(GRID, loss, color=color, label=f"p={p}")
        if p == 1:
            draw_step(right, GRID, grad, color=color, label=f"p={p}")
        else:
            right.plot(GRID, grad, color=color, label=f"p={p}")
    mark_kinks(right, 1.5, at_kink_multiclass(fh.crammer_singer, 1.5), "C0")
    left.set_ylim(-0.3, 6)
    right.set_ylim(-4.5, 0.5)
    label_axes(left, right, "true score s_y", "∂ℓ/∂s_y")
    return save(fig, "crammer_singer")


def plot_one_vs_all():
    """One-vs-all, p = 1 and 2."""
    fig, left, right = figure(f"one_vs_all, other scores {OTHERS}")
    for p, color in ((1, "C0"), (2, "C1")):
        loss, grad = multiclass(fh.one_vs_all, p=p)
        left.plot(GRID, loss, color=color, label=f"p={p}")
        if p == 1:
            draw_step(right, GRID, grad, color=color, label=f"p={p}")
        else:
            right.plot(GRID, grad, color=color, label=f"p={p}")
    mark_kinks(right, 1.0, at_kink_multiclass(fh.one_vs_all, 1.0), "C0")
    left.set_ylim(-0.3, 12)
    right.set_ylim(-8.5, 0.5)
    label_axes(left, right, "true score s_y", "∂ℓ/∂s_y")
    return save(fig, "one_vs_all")


def plot_topk_hinge():
    """Top-k α and β at k = 2, with Crammer–Singer (k = 1)."""
    fig, left, right = figure(f"topk_hinge, k=2, other scores {OTHERS}")
    cs_loss = multiclass(fh.crammer_singer)[0]
    left.plot(GRID, cs_loss, color="0.5", linestyle=":", label="crammer_singer (k=1)")
    for variant, color in (("alpha", "C0"), ("beta", "C1")):
        loss, grad = multiclass(fh.topk_hinge, 2, variant=variant)
        name = f"{variant} (k=2)"
        left.plot(GRID, loss, color=color, label=name, linestyle="-" if color == "C0" else "--")
        draw_step(
            right, GRID, grad, color=color, label=name, linestyle="-" if color == "C0" else "--"
        )
    mark_kinks(right, 1.25, at_kink_multiclass(fh.topk_hinge, 1.25, 2, variant="alpha"), "C0")
    label_axes(left, right, "true score s_y", "∂ℓ/∂s_y")
    return save(fig, "topk_hinge")


def plot_categorical_hinge():
    """Keras' categorical hinge (one-hot) against Crammer–Singer."""
    fig, left, right = figure("categorical_hinge (one-hot) against crammer_singer")

    def onehot(fn, others):
        def call(scores, y, **kw):
            targets = np.zeros(scores.shape)
            targets[np.arange(len(y)), y] = 1.0
            return fn(scores, targets, **kw)

        return multiclass(call, others=others)

    for others, color in ((OTHERS, "C0"), (NEGATIVE_OTHERS, "C1")):
        loss, grad = onehot(fh.categorical_hinge, others)
        name = f"others {others}"
        left.plot(GRID, loss, color=color, label=name)
        draw_step(right, GRID, grad, color=color, label=name)
        cs_loss, _cs_grad = multiclass(fh.crammer_singer, others=others)
        left.plot(
            GRID,
            cs_loss,
            color=color,
            linestyle=":",
            linewidth=1.4,
            label="crammer_singer" if color == "C1" else None,
        )
    left.set_ylim(-0.3, 5)
    label_axes(left, right, "true score s_y", "∂ℓ/∂s_y")
    return save(fig, "categorical_hinge")


def plot_structured_hinge():
    """Margin and slack rescaling with one cost row."""
    cost = np.array([[0.0, 1.0, 2.0, 0.5], [1, 0, 1, 1], [1, 1, 0, 1], [1, 1, 1, 0]])
    fig, left, right = figure(f"structured_hinge, cost row Δ[y] = {tuple(cost[0].tolist())}")
    for rescaling, color in (("margin", "C0"), ("slack", "C1")):
        loss, grad = multiclass(fh.structured_hinge, cost, rescaling=rescaling)
        left.plot(GRID, loss, color=color, label=f'rescaling="{rescaling}"')
        draw_step(right, GRID, grad, color=color, label=f'rescaling="{rescaling}"')
    left.set_ylim(-0.3, 8)
    label_axes(left, right, "true score s_y", "∂ℓ/∂s_y")
    return save(fig, "structured_hinge")


def plot_multilabel_margin():
    """PyTorch's multilabel margin loss, one target score varying."""
    fig, left, right = figure("multilabel_margin, targets {0, 1}, s_1 = 0.5, s_2 = 0, s_3 = −0.5")

    def call(scores, y, **kw):
        targets = np.full(scores.shape, -1)
        targets[:, :2] = (0, 1)
        return fh.multilabel_margin(scores, targets, **kw)

    loss, grad = multiclass(call)
    left.plot(GRID, loss, color="C0", label="targets {0, 1}")
    draw_step(right, GRID, grad, color="C0", label="targets {0, 1}")
    label_axes(left, right, "target score s_0", "∂ℓ/∂s_0")
    return save(fig, "multilabel_margin")


def plot_multiclass_overview():
    """Every multiclass loss on one pair of axes."""
    fig, left, right = figure(f"Multiclass losses against s_y, other scores {OTHERS}")
    onehot = lambda scores, y, **kw: fh.categorical_hinge(scores, np.eye(4)[y], **kw)  # noqa: E731
    curves = (
        ("weston_watkins (÷1)", fh.weston_watkins, (), {"normalize": False}, "C0"),
        ("crammer_singer", fh.crammer_singer, (), {}, "C1"),
        ("one_vs_all", fh.one_vs_all, (), {}, "C2"),
        ("topk α, k=2", fh.topk_hinge, (2,), {"variant": "alpha"}, "C3"),
        ("topk β, k=2", fh.topk_hinge, (2,), {"variant": "beta"}, "C4"),
        ("categorical_hinge", onehot, (), {}, "C5"),
    )
    for name, fn, args, kw, color in curves:
        loss, grad = multiclass(fn, *args, **kw)
        style = "--" if name.startswith("categorical") else "-"
        left.plot(GRID, loss, color=color, label=name, linewidth=1.1, linestyle=style)
        draw_step(right, GRID, grad, color=color, linewidth=1.1, linestyle=style)
    left.set_ylim(-0.3, 8)
    label_axes(left, right, "true score s_y", "∂ℓ/∂s_y")
    return save(fig, "multiclass_overview")


PLOTS = (
    plot_binary_overview,
    plot_binary_hinge,
    plot_perceptron,
    plot_smooth_hinge,
    plot_modified_huber,
    plot_hinge_embedding,
    plot_multiclass_overview,
    plot_weston_watkins,
    plot_crammer_singer,
    plot_one_vs_all,
    plot_topk_hinge,
    plot_categorical_hinge,
    plot_structured_hinge,
    plot_multilabel_margin,
)


def main(argv=None):
    """Draw every plot; with ``--check``, fail on a PNG that is too big or mis-sized."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check size and dimensions")
    args = parser.parse_args(argv)
    IMG.mkdir(exist_ok=True)
    bad = 0
    for plot in PLOTS:
        path = plot()
        size = path.stat().st_size
        height, width = plt.imread(path).shape[:2]
        ok = size < MAX_BYTES and (width, height) == (600, 300)
        bad += not ok
        print(
            f"{path.relative_to(DOCS.parent)}: {width}×{height}, {size / 1000:.1f} kB"
            + ("" if ok else "  <- too big or not 600×300")
        )
    return 1 if (args.check and bad) else 0


if __name__ == "__main__":
    sys.exit(main())
