"""Slow, obviously-correct loop references for every public loss (float64 math).

Each ``*_rows`` function returns per-row losses ``ℓ_i`` and the gradient of
``Σ_i ℓ_i`` (unweighted, unreduced); ``reduce`` applies weights and the
reduction. Inputs on a coarse grid (multiples of 1/4) are exact in float32 and
float64, so kinks and ties fall the same way in every dtype.
"""

from __future__ import annotations

import functools
import math

import numpy as np


def _ieee(func):
    """Run a reference with IEEE semantics and no warnings (inf - inf is NaN, as intended)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with np.errstate(all="ignore"):
            return func(*args, **kwargs)

    return wrapper


KINK = {"zero": 0.0, "full": 1.0, "half": 0.5}


def hinge_term(z: float, p: int, kink: str) -> tuple[float, float]:
    """max(0, z)^p and its derivative in z, with the kink convention."""
    if math.isnan(z):
        return z, z
    if z > 0:
        return (z, 1.0) if p == 1 else (z * z, 2 * z)
    if z == 0 and p == 1:
        return 0.0, KINK[kink]
    return 0.0, 0.0


@_ieee
def weston_watkins_rows(
    S,
    y,
    *,
    margin=1.0,
    p=1,
    class_weight=None,
    normalize=True,
    nan="propagate",
    kink="zero",
    ignore_index=None,
):
    n, c = S.shape
    loss, grad = np.zeros(n), np.zeros((n, c))
    w = np.ones(c) if class_weight is None else np.asarray(class_weight, float)
    norm = c if normalize else 1
    for i in range(n):
        if ignore_index is not None and y[i] == ignore_index:
            continue
        t = int(y[i])
        for j in range(c):
            if j == t:
                continue
            z = margin - float(S[i, t]) + float(S[i, j])
            if math.isnan(z) and nan == "drop":
                continue
            h, d = hinge_term(z, p, kink)
            loss[i] += w[t] * h / norm
            grad[i, j] += w[t] * d / norm
            grad[i, t] -= w[t] * d / norm
    return loss, grad


@_ieee
def crammer_singer_rows(
    S, y, *, margin=1.0, p=1, class_weight=None, kink="zero", ties="first", ignore_index=None
):
    n, c = S.shape
    loss, grad = np.zeros(n), np.zeros((n, c))
    w = np.ones(c) if class_weight is None else np.asarray(class_weight, float)
    for i in range(n):
        if (ignore_index is not None and y[i] == ignore_index) or c == 1:
            continue
        t = int(y[i])
        wrong = [j for j in range(c) if j != t]
        values = [float(S[i, j]) for j in wrong]
        if any(math.isnan(x) for x in values):
            first_nan = wrong[[math.isnan(x) for x in values].index(True)]
            loss[i] = grad[i, first_nan] = grad[i, t] = math.nan
            continue
        best = max(values)
        tied = [j for j, x in zip(wrong, values, strict=False) if x == best]
        z = margin - (float(S[i, t]) - best)
        h, d = hinge_term(z, p, "full" if kink == "half" else kink)
        winners = tied if ties == "split" else tied[:1]
        if z == 0 and p == 1 and kink == "half":  # y joins the tie set (jax.grad)
            d = len(winners) / (len(winners) + 1)
        loss[i] = w[t] * h
        for j in winners:
            grad[i, j] += w[t] * d / len(winners)
        grad[i, t] -= w[t] * d
    return loss, grad


@_ieee
def binary_hinge_rows(
    f, t, *, margin=1.0, p=1, label_encoding="pm1", kink="zero", ignore_index=None
):
    n = f.shape[0]
    loss, grad = np.zeros(n), np.zeros(n)
    for i in range(n):
        if ignore_index is not None and t[i] == ignore_index:
            continue
        sign = 1.0 if t[i] == 1 else -1.0
        h, d = hinge_term(margin - sign * float(f[i]), p, kink)
        loss[i], grad[i] = h, -sign * d
    return loss, grad


@_ieee
def reduce(loss, grad, y, *, reduction="mean", sample_weight=None, ignore_index=None):
    """Apply sample weights and the reduction; scale the gradient to match."""
    n = loss.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    kept = np.ones(n, bool) if ignore_index is None else np.asarray(y) != ignore_index
    weighted = loss * w
    shape = (n,) + (1,) * (grad.ndim - 1)
    grad = grad * w.reshape(shape)
    if reduction == "none":
        return weighted, grad
    if reduction == "sum":
        return weighted.sum(), grad
    if reduction == "mean" and sample_weight is not None:
        denom = w[kept].sum()
    else:
        denom = kept.sum()
    if denom == 0:
        return math.nan, grad
    return weighted.sum() / denom, grad / denom


@_ieee
def smooth_hinge_rows(
    f, t, *, gamma=1.0, margin=1.0, scale=1.0, label_encoding="pm1", ignore_index=None
):
    """Zhang's quadratically smoothed hinge (scale 4, gamma 2: modified Huber)."""
    n = f.shape[0]
    loss, grad = np.zeros(n), np.zeros(n)
    for i in range(n):
        if ignore_index is not None and t[i] == ignore_index:
            continue
        sign = 1.0 if t[i] == 1 else -1.0
        u = margin - sign * float(f[i])
        if math.isnan(u):
            loss[i] = grad[i] = u
        elif u <= 0:
            continue
        elif u <= gamma:
            loss[i], grad[i] = scale * u * u / (2 * gamma), -sign * scale * u / gamma
        else:
            loss[i], grad[i] = scale * (u - gamma / 2), -sign * scale
    return loss, grad


@_ieee
def hinge_embedding_rows(x, t, *, margin=1.0, kink="full", ignore_index=None):
    """PyTorch HingeEmbeddingLoss: [t != -1]·x + [t != 1]·(m - x)_+."""
    n = x.shape[0]
    loss, grad = np.zeros(n), np.zeros(n)
    for i in range(n):
        if ignore_index is not None and t[i] == ignore_index:
            continue
        xi = float(x[i])
        if math.isnan(xi):  # fasthinge's policy: NaN propagates into loss and gradient
            loss[i] = grad[i] = math.nan
            continue
        if t[i] != -1:
            loss[i] += xi
            grad[i] += 1.0
        if t[i] != 1:
            h, d = hinge_term(margin - xi, 1, kink)
            loss[i] += h
            grad[i] -= d
    return loss, grad


@_ieee
def one_vs_all_rows(S, y, *, margin=1.0, p=1, normalize=False, kink="zero", ignore_index=None):
    """Σ_c (m − t_c s_c)_+^p, t_c = +1 for the label, else −1 (÷C with normalize)."""
    n, c = S.shape
    loss, grad = np.zeros(n), np.zeros((n, c))
    norm = c if normalize else 1
    for i in range(n):
        if ignore_index is not None and y[i] == ignore_index:
            continue
        for j in range(c):
            t = 1.0 if j == y[i] else -1.0
            h, d = hinge_term(margin - t * float(S[i, j]), p, kink)
            loss[i] += h / norm
            grad[i, j] = -t * d / norm
    return loss, grad


def _argmax_set(values, exclude):
    best = max(v for j, v in enumerate(values) if j != exclude)
    return best, [j for j, v in enumerate(values) if j != exclude and v == best]


@_ieee
def structured_rows(
    S, y, cost, *, rescaling="margin", margin=1.0, kink="zero", ties="first", ignore_index=None
):
    """Margin rescaling max(0, max_{j≠y}(Δ_yj + s_j) − s_y); slack max_j Δ_yj (m + s_j − s_y)_+."""
    n, c = S.shape
    loss, grad = np.zeros(n), np.zeros((n, c))
    for i in range(n):
        t = int(y[i])
        if (ignore_index is not None and t == ignore_index) or c == 1:
            continue
        s = [float(v) for v in S[i]]
        if rescaling == "margin":
            best, winners = _argmax_set([cost[t][j] + s[j] for j in range(c)], t)
            z = best - s[t]
            slopes = {j: 1.0 for j in winners}
        else:
            u = [margin + s[j] - s[t] for j in range(c)]
            best, winners = _argmax_set([cost[t][j] * max(u[j], 0.0) for j in range(c)], t)
            z = best
            slopes = {j: cost[t][j] for j in winners}
            if z == 0:  # the kink: hinges exactly at 0 with a positive cost
                winners = [j for j in range(c) if j != t and cost[t][j] > 0 and u[j] == 0][:1]
                slopes = {j: cost[t][j] for j in winners}
        if z < 0 or (z == 0 and (kink == "zero" or not winners)):
            continue
        chosen = (
            winners if ties == "split" and not (z == 0 and rescaling == "slack") else winners[:1]
        )
        frac = 1 / len(chosen)
        if z == 0 and kink == "half":
            frac = 1 / (len(chosen) + 1)
        loss[i] = z
        for j in chosen:
            grad[i, j] += slopes[j] * frac
            grad[i, t] -= slopes[j] * frac
    return loss, grad


@_ieee
def categorical_hinge_rows(S, T, *, margin=1.0, kink="half", ties="split"):
    """Keras: max(0, max_c (1 − t_c) s_c − Σ t_c s_c + m); jax.grad's subgradient by default."""
    n, c = S.shape
    loss, grad = np.zeros(n), np.zeros((n, c))
    for i in range(n):
        s, t = [float(v) for v in S[i]], [float(v) for v in T[i]]
        pos = sum(a * b for a, b in zip(t, s, strict=True))
        prod = [(1 - a) * b for a, b in zip(t, s, strict=True)]
        neg = math.nan if any(math.isnan(v) for v in prod) else max(prod)  # jnp.max
        h, d = hinge_term(neg - pos + margin, 1, kink)
        winners = [j for j in range(c) if prod[j] == neg]
        winners = winners if ties == "split" else winners[:1]
        loss[i] = h
        for j in range(c):
            grad[i, j] = -d * t[j] + (d * (1 - t[j]) / len(winners) if j in winners else 0.0)
    return loss, grad


@_ieee
def multilabel_margin_rows(S, targets, *, margin=1.0, kink="zero", nan="propagate"):
    """PyTorch MultiLabelMarginLoss: Σ_t Σ_{d∉T} (m − s_t + s_d)_+ / C, T up to the first -1."""
    n, c = S.shape
    loss, grad = np.zeros(n), np.zeros((n, c))
    for i in range(n):
        row = []
        for t in targets[i]:
            if t < 0:
                break
            row.append(int(t))
        others = [d for d in range(c) if d not in row]
        for t in row:
            for d in others:
                z = margin - float(S[i, t]) + float(S[i, d])
                if math.isnan(z) and nan == "drop":
                    continue
                h, dz = hinge_term(z, 1, kink)
                loss[i] += h / c
                grad[i, t] -= dz / c
                grad[i, d] += dz / c
    return loss, grad
