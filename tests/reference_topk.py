"""Slow, obviously-correct loop references for the top-k multiclass SVM losses.

Top-k SVM^alpha ("hinge of top-k") and top-k SVM^beta ("top-k of hinge") of
Lapin, Hein & Schiele: "Top-k Multiclass SVM" (NIPS 2015) and "Loss Functions
for Top-k Error: Analysis and Insights" (CVPR 2016). Each ``*_rows`` function
returns the per-row losses ``l_i`` (N,) and the gradient of ``sum_i l_i``
(N, C), as in ``tests/reference.py``. The maths is float64, one row at a time.

Definitions (checked against the authors' code; see "Sources" below)
--------------------------------------------------------------------
For one row with scores ``s`` (C,), label ``y`` and margin ``m`` (the papers
and libsdca use m = 1, i.e. c = 1 - e_y), put

    h_j = m + s_j - s_y      for j != y        (C - 1 entries; y is EXCLUDED)

and sort them ``h_[1] >= h_[2] >= ... >= h_[C-1]``. With 1 <= k <= C - 1:

    alpha:  l = max(0, (1/k) * sum_{r<=k} h_[r])        hinge of the top-k mean
    beta:   l = (1/k) * sum_{r<=k} max(0, h_[r])        mean of the top-k hinges

* The 1/k is inside both losses (libsdca divides the summed primal loss by k
  through ``coeff_primal_loss = c / k``).
* beta >= alpha always, and both equal Crammer-Singer
  ``max(0, m + max_{j != y} s_j - s_y)`` at k = 1.
* Whether the y entry (h_y = 0) is in the sorted vector makes NO difference
  to beta (a 0 entry never adds to a sum of positive parts and only takes a
  slot that would add 0). It DOES change alpha for k >= 2: with y included,
  top-k sum of {h_j} plus {0} = T_{k-1} + max(h_[k], 0), where T_j is the sum
  of the j largest wrong entries, so alpha(included) >= alpha(excluded).
  libsdca's current code excludes y (below). Its older code (undated here) put a 0 at
  y and sorted all C entries. ``include_label=True`` gives that older
  variant, for comparison only.

Subgradient convention (this file)
----------------------------------
* Ties at the k-th position are resolved LOWEST CLASS INDEX FIRST: the active
  set is the first k indices of ``sorted(wrong, key=lambda j: (-s_j, j))``
  (ranked by score, as the docs define T: the same order as by h_j, and
  defined where h_j is not, e.g. ``inf - inf``).
  The loss value does not depend on this choice. Any choice gives a valid
  subgradient because a top-k sum is the max of the linear functions
  sum_{j in T} h_j over |T| = k.
* alpha: if t = (1/k) sum_{j in T} h_j > 0, then d/ds_j = 1/k for j in T and
  d/ds_y = -|T|/k = -1. If t < 0 the gradient is 0. At t == 0 the gradient is
  the active one times KINK[kink] ("zero" 0, "full" 1, "half" 1/2), the same
  convention as ``tests/reference.py`` (default "zero", as in torch eager).
* beta: for each j in T, the factor is 1 if h_j > 0, KINK[kink] if h_j == 0,
  and 0 if h_j < 0. It adds factor/k to d/ds_j and subtracts factor/k from
  d/ds_y.
* With ``include_label=True`` the y entry (constant 0, so zero derivative)
  takes part in the ranking and the tie-break like any other index.
* NaN in a row gives a NaN loss and a NaN gradient row, and so does an
  ``h_j = inf - inf`` (``s_j`` and ``s_y`` the same infinity) for a j in the top k.

The authors' own code never needs a subgradient. libsdca is a dual (SDCA)
solver: its primal losses only evaluate values, with ``std::nth_element``, so
the tie order is unspecified and cannot change the value. The one gradient the
authors ship, mlapin/caffe ``TopkHingeLossLayer``, is for the *smooth* beta
loss (gamma = 1). Its gradient there is the projection p of h onto
{0 <= x_j <= gamma/k, sum x <= gamma}, scaled by 1/gamma and placed +p_j on
j != y and -sum p on y. This is unique, so there are no ties. As gamma -> 0,
p/gamma tends to the beta subgradient above.

Sources (quoted verbatim)
-------------------------
mlapin/libsdca ``include/sdca/solver/eval/primal.h`` (088a1a18): the true
class is moved to index 0 before ``primal_loss`` is called::

    // Put the ground truth score at 0
    size_type label = out.labels[i];
    std::swap(scores[0], scores[label]);

mlapin/libsdca ``include/sdca/solver/objective/l2_hinge_topk.h`` (088a1a18),
``l2_hinge_topk`` = "topk_hinge_alpha" (hinge-of-top-k)::

    Data *first(scores + 1), *last(scores + num_classes), a(1 - scores[0]);
    std::for_each(first, last, [=](Data &x){ x += a; });
    // Find k largest elements
    std::nth_element(first, first + k - 1, last, std::greater<Data>());
    // max{0, sum_k_largest} (division by k happens later)
    Result zero(0);
    return std::max(zero, std::accumulate(first, first + k, zero));

mlapin/libsdca ``include/sdca/solver/objective/l2_topk_hinge.h`` (1beffa4c),
``l2_topk_hinge`` = "topk_hinge_beta" (top-k-of-hinge); same ``first``,
``a`` and ``nth_element`` lines, then::

    // sum_k_largest max{0, score_i} (division by k happens later)
    auto it = std::partition(first, first + k, [](Data x){ return x > 0; });
    return std::accumulate(first, it, static_cast<Result>(0));

The 1/k comes from both constructors (``base::objective_base(__c /
static_cast<Result>(__k))``) and from ``objective_base.h``
(``__primal_loss *= coeff_primal_loss;``). The dual sets are over the C - 1
wrong classes only: alpha uses ``prox_topk_simplex_biased`` ({<1,x> <= rhs,
0 <= x_i <= <1,x>/k}) and beta uses ``prox_knapsack_le_biased(..., lo=0,
hi=c/k, rhs=c, ...)``. Their support functions are exactly the two
y-excluded losses above.

Older libsdca, ``src/solvers/dual_variables_helper.cpp`` (6c566725; also
``src/solve/l2_hinge_topk.h`` and ``l2_topk_hinge.h`` at 0423d901) put a 0 at y
and sorted all C entries (this is ``include_label=True``)::

    RealType a = static_cast<RealType>(1) - scores[label];
    std::for_each(scores.begin(), scores.end(), [&](RealType &x){ x += a; });
    scores[label] = static_cast<RealType>(0);
    ...
    std::nth_element(scores.begin(), k_end - 1, scores.end(),
      std::greater<RealType>());

``src/solve/l2_hinge_topk.h`` at a037667d already uses
``first(scores + 1)`` (y excluded). ``src/matlab/mex_solve.cpp`` (102f2d5a)
says: "note that for k=1 and gamma=0 both l2_topk_hinge and l2_hinge_topk
coincide with the multiclass SVM of Crammer and Singer". It also checks
``mxCheckRange<size_type>(k, 1, trn_data.num_tasks - 1, "k")``, i.e. 1 <= k <= C - 1.

Related, but a different loss: oval-group/smooth-topk ``topk/functional.py``
``Topk_Hard_SVM`` (Berrada, Zisserman & Kumar, ICLR 2018)::

    max_1, _ = (x_1 + alpha).topk(k, dim=1)
    max_1 = max_1.mean(1)
    max_2, _ = x_1.topk(k - 1, dim=1)
    max_2 = (max_2.sum(1) + x_2) / k
    loss = torch.clamp(max_1 - max_2, min=0)

Here x_1 holds the wrong scores and x_2 = s_y (``tests/py_ref.py``
``svm_topk_max_py`` excludes y the same way). The loss is
max(0, alpha + (s'_[k] - s_y)/k), where s'_[k] is the k-th largest wrong score.
That is neither Lapin alpha, max(0, m + mean_{r<=k} s'_[r] - s_y), nor beta.
All three agree at k = 1.

The paper PDFs could not be read here (the stored copies show only their
openings). The definitions above rest on the authors' code and help texts.
"""

from __future__ import annotations

import math

import numpy as np

KINK = {"zero": 0.0, "full": 1.0, "half": 0.5}


def _row_entries(s, t, margin, include_label):
    """[(index, h)] for the ranked entries of one row."""
    c = len(s)
    out = []
    for j in range(c):
        if j == t:
            if include_label:
                out.append((j, 0.0))  # h_y = m*0 + s_y - s_y, a constant
            continue
        out.append((j, margin + float(s[j]) - float(s[t])))
    return out


def _top_k(entries, k, s, t, margin):
    """The k largest (index, h), ranked by score; ties at the k-th position: lowest index first.

    Ranked by ``s_j`` (the included label by ``s_y − m``, where its ``h = 0``
    sits), which orders the ``h_j`` the same way wherever they differ. Where
    they do not, the scores still do: with ``s_y = −inf`` every finite wrong
    score has ``h_j = inf`` and a ``−inf`` one ``h_j = inf − inf``, NaN, which
    has no place in an ordering of ``h``.
    """

    def score(e):
        return float(s[t]) - margin if e[0] == t else float(s[e[0]])

    return sorted(entries, key=lambda e: (-score(e), e[0]))[:k]


def _nan_row(s, top):
    """Whether a row's loss and gradient are NaN: a NaN score, or ``h = inf − inf`` in the top k."""
    return any(math.isnan(float(v)) for v in s) or any(math.isnan(h) for _, h in top)


def _check(S, y, k, include_label):
    S = np.asarray(S, dtype=np.float64)
    if S.ndim != 2:
        raise ValueError("S must be (N, C)")
    n, c = S.shape
    y = np.asarray(y).astype(np.int64).reshape(-1)
    if y.shape[0] != n:
        raise ValueError("y must have N entries")
    if np.any((y < 0) | (y >= c)):
        raise ValueError("label out of range")
    kmax = c if include_label else c - 1
    if not (1 <= int(k) <= kmax):
        raise ValueError(f"k must be in [1, {kmax}] for C = {c}")
    return S, y, n, c, int(k)


def topk_alpha_rows(S, y, k, margin=1.0, *, include_label=False, kink="zero"):
    """Top-k SVM^alpha: max(0, (1/k) sum_{r<=k} h_[r]), h_j = m + s_j - s_y (j != y)."""
    S, y, n, c, k = _check(S, y, k, include_label)
    loss, grad = np.zeros(n), np.zeros((n, c))
    for i in range(n):
        t = int(y[i])
        top = _top_k(_row_entries(S[i], t, margin, include_label), k, S[i], t, margin)
        if _nan_row(S[i], top):  # NaN, or inf - inf from infinite scores
            loss[i] = math.nan
            grad[i, :] = math.nan
            continue
        inner = sum(h for _, h in top) / k
        if inner > 0:
            factor = 1.0
        elif inner == 0:
            factor = KINK[kink]
        else:
            factor = 0.0
        loss[i] = max(0.0, inner)
        for j, _ in top:
            if j == t:  # included y entry: constant 0, no derivative
                continue
            grad[i, j] += factor / k
            grad[i, t] -= factor / k
    return loss, grad


def topk_beta_rows(S, y, k, margin=1.0, *, include_label=False, kink="zero"):
    """Top-k SVM^beta: (1/k) sum_{r<=k} max(0, h_[r]), h_j = m + s_j - s_y (j != y)."""
    S, y, n, c, k = _check(S, y, k, include_label)
    loss, grad = np.zeros(n), np.zeros((n, c))
    for i in range(n):
        t = int(y[i])
        top = _top_k(_row_entries(S[i], t, margin, include_label), k, S[i], t, margin)
        if _nan_row(S[i], top):  # NaN, or inf - inf from infinite scores
            loss[i] = math.nan
            grad[i, :] = math.nan
            continue
        total = 0.0
        for j, h in top:
            if h > 0:
                total += h
                factor = 1.0
            elif h == 0:
                factor = KINK[kink]
            else:
                factor = 0.0
            if j == t:
                continue
            grad[i, j] += factor / k
            grad[i, t] -= factor / k
        loss[i] = total / k
    return loss, grad


# --------------------------------------------------------------------------- self-check


def _cs_rows(S, y, margin=1.0):
    """Crammer-Singer max(0, m + max_{j != y} s_j - s_y); first-index argmax."""
    n, c = S.shape
    loss, grad = np.zeros(n), np.zeros((n, c))
    for i in range(n):
        t = int(y[i])
        wrong = [j for j in range(c) if j != t]
        jstar = max(wrong, key=lambda j: (S[i, j], -j))
        z = margin + S[i, jstar] - S[i, t]
        loss[i] = max(0.0, z)
        if z > 0:
            grad[i, jstar] += 1.0
            grad[i, t] -= 1.0
    return loss, grad


def _kink_distance(s, t, k, margin, include_label, which):
    """How far a row is from the nearest non-differentiable point."""
    entries = _row_entries(s, t, margin, include_label)
    ranked = sorted((h for _, h in entries), reverse=True)
    d = math.inf
    if k < len(ranked):  # tie at the k-th position
        d = min(d, ranked[k - 1] - ranked[k])
    if which == "alpha":  # the outer max(0, .)
        d = min(d, abs(sum(ranked[:k]) / k))
    else:  # each max(0, h_j) of a wrong class
        d = min(d, min(abs(h) for j, h in entries if j != t))
    return d


def _fd_grad(fn, S, y, k, margin, eps=1e-6, **kw):
    g = np.zeros_like(S)
    for i in range(S.shape[0]):
        for j in range(S.shape[1]):
            Sp, Sm = S.copy(), S.copy()
            Sp[i, j] += eps
            Sm[i, j] -= eps
            g[i, j] = (
                fn(Sp, y, k, margin, **kw)[0].sum() - fn(Sm, y, k, margin, **kw)[0].sum()
            ) / (2 * eps)
    return g


def _self_check(seed=0):
    rng = np.random.default_rng(seed)
    fns = {"alpha": topk_alpha_rows, "beta": topk_beta_rows}

    # 1. k = 1 equals Crammer-Singer (value and first-index subgradient), any margin,
    #    both conventions for the y entry; includes exact ties on a coarse grid.
    for trial in range(200):
        n, c = int(rng.integers(1, 6)), int(rng.integers(2, 7))
        S = rng.integers(-8, 9, size=(n, c)) / 4.0 if trial % 2 else rng.normal(size=(n, c))
        y = rng.integers(0, c, size=n)
        m = float(rng.choice([0.0, 0.5, 1.0, 2.0]))
        cs_l, cs_g = _cs_rows(S, y, m)
        for name, fn in fns.items():
            for inc in (False, True):
                l_, g_ = fn(S, y, 1, m, include_label=inc)
                assert np.allclose(l_, cs_l, atol=1e-12), (name, inc, S, y, m)
                assert np.allclose(g_, cs_g, atol=1e-12), (name, inc, S, y, m)

    # 2. Gradients against central differences, away from kinks and ties.
    checked = 0
    while checked < 300:
        n, c = int(rng.integers(1, 4)), int(rng.integers(3, 9))
        k = int(rng.integers(1, c))  # 1..C-1
        m = float(rng.choice([0.0, 0.5, 1.0, 2.0]))
        S = rng.normal(scale=2.0, size=(n, c))
        y = rng.integers(0, c, size=n)
        for name, fn in fns.items():
            for inc in (False, True):
                if any(_kink_distance(S[i], int(y[i]), k, m, inc, name) < 1e-3 for i in range(n)):
                    continue
                _, g = fn(S, y, k, m, include_label=inc)
                g_fd = _fd_grad(fn, S, y, k, m, include_label=inc)
                assert np.allclose(g, g_fd, atol=1e-6), (name, inc, k, m, S, y, g, g_fd)
                checked += 1

    # 3. Structural facts: beta >= alpha; beta does not depend on the y convention;
    #    alpha(y included) >= alpha(y excluded), with the closed form
    #    T_{k-1} + max(h_[k], 0); every gradient row sums to 0.
    strict = 0
    for _ in range(300):
        n, c = int(rng.integers(1, 5)), int(rng.integers(3, 9))
        k = int(rng.integers(1, c))
        S = rng.integers(-8, 9, size=(n, c)) / 4.0
        y = rng.integers(0, c, size=n)
        la, ga = topk_alpha_rows(S, y, k)
        lb, gb = topk_beta_rows(S, y, k)
        la_in, _ = topk_alpha_rows(S, y, k, include_label=True)
        lb_in, _ = topk_beta_rows(S, y, k, include_label=True)
        assert np.all(lb >= la - 1e-12)
        assert np.allclose(lb, lb_in, atol=1e-12)
        assert np.all(la_in >= la - 1e-12)
        strict += int(np.any(la_in > la + 1e-12))
        for i in range(n):
            t = int(y[i])
            hs = sorted((1.0 + S[i, j] - S[i, t] for j in range(c) if j != t), reverse=True)
            closed = max(0.0, (sum(hs[: k - 1]) + max(hs[k - 1], 0.0)) / k)
            assert abs(la_in[i] - closed) < 1e-12
        assert np.allclose(ga.sum(1), 0) and np.allclose(gb.sum(1), 0)
    assert strict > 0  # the two alpha conventions really differ somewhere

    # 4. Hand-worked example: C = 3, y = 0, s = (0, 4, -4), k = 2, m = 1.
    #    h = (5, -3): alpha = max(0, (5-3)/2) = 1; beta = (5+0)/2 = 2.5;
    #    alpha with y included ranks (5, 0, -3): (5+0)/2 = 2.5.
    S = np.array([[0.0, 4.0, -4.0]])
    y = np.array([0])
    la, ga = topk_alpha_rows(S, y, 2)
    lb, gb = topk_beta_rows(S, y, 2)
    la_in, ga_in = topk_alpha_rows(S, y, 2, include_label=True)
    assert la[0] == 1.0 and np.allclose(ga, [[-1.0, 0.5, 0.5]])
    assert lb[0] == 2.5 and np.allclose(gb, [[-0.5, 0.5, 0.0]])
    assert la_in[0] == 2.5 and np.allclose(ga_in, [[-0.5, 0.5, 0.0]])

    # 5. Tie at the k-th position goes to the lowest index: C = 4, y = 3,
    #    s = (1, 1, 1, 0), k = 2 -> classes 0 and 1 are active, 2 is not.
    S = np.array([[1.0, 1.0, 1.0, 0.0]])
    y = np.array([3])
    for fn in fns.values():
        l_, g_ = fn(S, y, 2)
        assert l_[0] == 2.0 and np.allclose(g_, [[0.5, 0.5, 0.0, -1.0]])

    # 6. kink conventions at exact zero (alpha inner sum 0; beta h_j = 0).
    S = np.array([[0.0, -1.0, 0.0]])  # y = 0, m = 1: h = (0, 1)
    y = np.array([0])
    l_, g_ = topk_alpha_rows(S, y, 2, kink="zero")  # inner (0 + 1)/2 > 0
    assert l_[0] == 0.5 and np.allclose(g_, [[-1.0, 0.5, 0.5]])
    l_, g_ = topk_beta_rows(S, y, 2, kink="full")
    assert l_[0] == 0.5 and np.allclose(g_, [[-1.0, 0.5, 0.5]])
    l_, g_ = topk_beta_rows(S, y, 2, kink="zero")
    assert l_[0] == 0.5 and np.allclose(g_, [[-0.5, 0.0, 0.5]])
    S = np.array([[0.0, -2.0, 0.0]])  # h = (-1, 1): alpha inner 0 at k = 2
    l_, g_ = topk_alpha_rows(S, y, 2, kink="half")
    assert l_[0] == 0.0 and np.allclose(g_, [[-0.5, 0.25, 0.25]])

    print(f"reference_topk self-check OK ({checked} finite-difference cases)")


if __name__ == "__main__":
    _self_check()
