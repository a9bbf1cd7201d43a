"""Write the parity vectors for ``fasthinge.compat.*`` by running the real peers.

The peers are heavy and must not be installed into the project's own Python
(they can move numpy and break numba), so use a separate virtualenv::

    python -m venv /tmp/peers
    /tmp/peers/bin/pip install "numpy<2.5" torch==2.13.0 torchmetrics==1.9.0 \
        scikit-learn==1.9.1 "jax[cpu]" optax==0.2.8 keras==3.15.1
    /tmp/peers/bin/python tests/golden/generate_compat.py          # all peers
    /tmp/peers/bin/python tests/golden/generate_compat.py optax     # only some

(``python tests/golden/generate_compat.py`` works the same in any Python that
has the peers.)  It writes, beside itself:

* ``compat_torch.npz``        ``F.multilabel_margin_loss``, ``F.hinge_embedding_loss``,
                              ``nn.MultiMarginLoss`` (loss + torch autograd gradient)
* ``compat_torchmetrics.npz`` ``binary_hinge_loss``, ``multiclass_hinge_loss``
                              (loss + torch autograd gradient w.r.t. ``preds``)
* ``compat_keras.npz``        keras 3 on the jax backend: ``hinge``, ``squared_hinge``,
                              ``categorical_hinge`` and the ``Hinge``/``SquaredHinge``/
                              ``CategoricalHinge`` classes (loss + ``jax.grad``)
* ``compat_optax.npz``        ``hinge_loss``, ``perceptron_loss``, ``multiclass_hinge_loss``,
                              ``multiclass_perceptron_loss`` (loss + ``jax.grad``)
* ``compat_sklearn.npz``      ``sklearn.metrics.hinge_loss`` (value only: sklearn has no
                              gradient) and ``sklearn.linear_model._sgd_fast``
                              ``Hinge``/``SquaredHinge``/``ModifiedHuber`` ``py_loss``/``py_dloss``

The format is the one of ``generate.py`` (read it back with ``generate.load``):
each case is stored as ``<case>__<field>`` arrays plus ``<case>__kwargs`` (JSON),
and the versions used are stored under ``versions``.  Every ``kwargs`` has
``"function"`` (the peer callable), ``"dtype"`` and ``"kind"`` (how the inputs
were drawn).  ``loss`` is exactly what the peer returned (as an array) and
``grad`` is the gradient of ``loss`` (of ``loss.sum()`` when ``loss`` is not a
scalar) w.r.t. the differentiated input, with that input's shape.  A case
whose call raised has ``kwargs["error"]`` (``"Type: message"``) and no
``loss``/``grad``; a case whose value is not defined by the peer (torch's
empty-batch ``multilabel_margin_loss`` mean/sum read uninitialised memory) has
``kwargs["loss_undefined"]`` and no ``loss``.  Empty optional inputs are stored
as ``np.empty(0)`` and mean "not passed" (the kwargs say so too).

jax: float32 cases run with ``jax_enable_x64`` off (the default), float64 cases
with it on; ``kwargs["jax_enable_x64"]`` records which.
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "jax"  # must precede any keras import

import contextlib
import pathlib
import platform
import sys

import numpy as np

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE))
from generate import _save, load  # noqa: E402

SEED = 20261129
DTYPES = (np.float32, np.float64)


def _dt(dtype):
    return np.dtype(dtype).name


def _huge(dtype):
    return 1e18 if dtype == np.float32 else 1e150


def _grid(rng, shape, lo=-6, hi=6):
    """Multiples of 1/4 in [lo/4, hi/4]: exact kinks and ties are frequent."""
    return rng.integers(lo, hi + 1, size=shape) / 4


def _scores(rng, shape, kind, dtype):
    if kind in ("grid", "c2"):
        s = _grid(rng, shape)
    elif kind == "normal":
        s = rng.standard_normal(shape) * 2
    elif kind == "huge":
        s = rng.standard_normal(shape) * _huge(dtype)
    elif kind == "special":
        s = rng.standard_normal(shape)
        k = min(3, s.size)
        s.flat[rng.choice(s.size, k, replace=False)] = [np.inf, -np.inf, np.nan][:k]
    elif kind == "empty":
        s = np.zeros(shape)
    else:
        raise ValueError(kind)
    return s.astype(dtype)


def _err(exc):
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


# --------------------------------------------------------------------------- torch
def _mlm_targets(rng, n, c):
    """multilabel_margin_loss targets: class ids, a -1 terminator, junk after it."""
    t = np.full((n, c), -1, dtype=np.int64)
    for i in range(n):
        k = [0, c][i] if i < 2 else int(rng.integers(1, c))  # an empty and a full row
        t[i, :k] = rng.permutation(c)[:k]
        if k + 1 < c:  # junk after the terminator is never read
            t[i, k + 1 :] = rng.integers(0, c, c - k - 1)
    return t


def torch_cases(rng):
    import torch
    import torch.nn.functional as F

    cases = {}
    n_case = [0]

    def add(prefix, fields):
        cases[f"{prefix}{n_case[0]:03d}"] = fields
        n_case[0] += 1

    full = ("none", "mean", "sum")
    short = ("none", "mean")

    # F.multilabel_margin_loss
    for dtype in DTYPES:
        for kind, shape, reductions in [
            ("grid", (6, 5), full),
            ("normal", (5, 4), short),
            ("c2", (4, 2), short),
            ("huge", (4, 5), short),
            ("special", (4, 5), full),
            ("empty", (0, 4), full),
            ("vector", (5,), short),
            ("duplicate", (3, 4), short),
        ]:
            if kind == "vector":
                x = _scores(rng, shape, "grid", dtype)
                t = _mlm_targets(rng, 3, 5)[2]
                t[:3] = [4, 1, -1]
            else:
                x = _scores(rng, shape, "grid" if kind == "duplicate" else kind, dtype)
                t = _mlm_targets(rng, shape[0], shape[1])
                if kind == "duplicate":  # a repeated target id counts twice
                    t[:] = [[1, 1, -1, 0], [2, 0, 2, -1], [3, 3, 3, 3]]
                if kind == "special":  # NaN in a target class / in a non-target class
                    x[2] = [np.nan, 0.5, 0.25, -0.5, 1.0]
                    t[2] = [0, 1, -1, 2, 3]
                    x[3] = [0.5, np.inf, -np.inf, 0.25, np.nan]
                    t[3] = [0, 3, -1, 0, 0]
                if kind == "grid":  # exact kinks 1 - (x[1] - x[i]) == 0 for i = 0, 2
                    x[2] = [0.5, 1.5, 0.5, 0.0, 2.0]
                    t[2] = [1, -1, 4, 0, 2]
            for reduction in reductions:
                xt = torch.tensor(x, requires_grad=True)
                loss = F.multilabel_margin_loss(xt, torch.tensor(t), reduction=reduction)
                (loss.sum() if loss.dim() else loss).backward()
                kw = dict(
                    function="torch.nn.functional.multilabel_margin_loss",
                    reduction=reduction,
                    dtype=_dt(dtype),
                    kind=kind,
                )
                fields = dict(input=x, target=t, loss=loss.detach().numpy(), grad=xt.grad.numpy())
                if kind == "empty" and reduction != "none":
                    # the CPU kernel returns without writing the output: the value is
                    # whatever was in memory (seen: 0.054, -1.2e10, 6.9e-310, ...)
                    kw["loss_undefined"] = "uninitialised memory, differs run to run"
                    del fields["loss"]
                add("mlm", dict(fields, kwargs=kw))

    # F.hinge_embedding_loss
    for dtype in DTYPES:
        for kind, shape, margin, reductions in [
            ("grid", (10,), 1.0, full),
            ("grid", (10,), 0.5, ("none",)),
            ("grid", (10,), 0.0, ("none",)),
            ("normal", (8,), 1.0, short),
            ("other_target", (8,), 1.0, short),
            ("matrix", (3, 4), 0.75, short),
            ("huge", (6,), 1.0, short),
            ("special", (6,), 1.0, full),
            ("empty", (0,), 1.0, full),
        ]:
            x = _scores(rng, shape, "grid" if kind in ("other_target", "matrix") else kind, dtype)
            y = rng.choice([-1.0, 1.0], shape)
            if kind == "grid":
                x.flat[:2] = margin  # exact kink of (margin - x)_+ for y = -1
                y.flat[:2] = -1.0
            if kind == "other_target":  # any target other than ±1 adds both terms
                y[:] = [0.0, 0.0, 2.0, 0.5, -2.0, 1.0, -1.0, 0.0]
                x[0] = 0.7
            y = y.astype(dtype)
            for reduction in reductions:
                xt = torch.tensor(x, requires_grad=True)
                loss = F.hinge_embedding_loss(
                    xt, torch.tensor(y), margin=margin, reduction=reduction
                )
                (loss.sum() if reduction == "none" else loss).backward()
                add(
                    "hel",
                    dict(
                        input=x,
                        target=y,
                        loss=loss.detach().numpy(),
                        grad=xt.grad.numpy(),
                        kwargs=dict(
                            function="torch.nn.functional.hinge_embedding_loss",
                            margin=margin,
                            reduction=reduction,
                            dtype=_dt(dtype),
                            kind=kind,
                        ),
                    ),
                )

    # torch.nn.MultiMarginLoss module == F.multi_margin_loss
    for dtype in DTYPES:
        x = _scores(rng, (7, 4), "grid", dtype)
        y = rng.integers(0, 4, 7)
        w = rng.uniform(0.25, 3.0, 4).astype(dtype)
        kw = dict(p=2, margin=0.5, reduction="mean")
        xt = torch.tensor(x, requires_grad=True)
        module = torch.nn.MultiMarginLoss(weight=torch.tensor(w), **kw)
        loss = module(xt, torch.tensor(y))
        loss.backward()
        xf = torch.tensor(x, requires_grad=True)
        lf = F.multi_margin_loss(xf, torch.tensor(y), weight=torch.tensor(w), **kw)
        lf.backward()
        assert torch.equal(loss, lf) and torch.equal(xt.grad, xf.grad)
        add(
            "mmm",
            dict(
                input=x,
                target=y,
                class_weight=w,
                loss=loss.detach().numpy(),
                grad=xt.grad.numpy(),
                functional_loss=lf.detach().numpy(),
                functional_grad=xf.grad.numpy(),
                kwargs=dict(
                    function="torch.nn.MultiMarginLoss",
                    equals="torch.nn.functional.multi_margin_loss",
                    dtype=_dt(dtype),
                    kind="grid",
                    **kw,
                ),
            ),
        )
    return cases


# --------------------------------------------------------------------- torchmetrics
def torchmetrics_cases(rng):
    import torch
    from torchmetrics.functional.classification import binary_hinge_loss, multiclass_hinge_loss
    from torchmetrics.utilities.compute import normalize_logits_if_needed

    cases = {}
    n_case = [0]

    def run(prefix, fn, name, x, target, kwargs, norm, filt):
        kw = dict(function=name, **kwargs)
        xt = torch.tensor(x, requires_grad=True)
        kept = torch.tensor(filt(x, target))
        # what torchmetrics decides on the kept values: sigmoid/softmax or not
        kw["auto_normalized"] = normalize_logits_if_needed(kept, norm) is not kept
        fields = dict(preds=x, target=target)
        try:
            call_kw = {k: v for k, v in kwargs.items() if k not in ("dtype", "kind")}
            loss = fn(xt, torch.tensor(target), **call_kw)
            (loss.sum() if loss.dim() else loss).backward()
            grad = xt.grad if xt.grad is not None else torch.zeros_like(xt)
            fields.update(loss=loss.detach().numpy(), grad=grad.numpy())
        except Exception as exc:
            kw["error"] = _err(exc)
        fields["kwargs"] = kw
        cases[f"{prefix}{n_case[0]:03d}"] = fields
        n_case[0] += 1

    def keep(ignore_index):
        return lambda x, t: x if ignore_index is None else x[t != ignore_index]

    # binary_hinge_loss
    for dtype in DTYPES:
        for kind, n in [
            ("prob_grid", 12),  # all in [0,1]: no sigmoid; p = 1 is the kink for a positive
            ("logit_grid", 12),  # some outside [0,1]: sigmoid on the whole batch
            ("normal", 10),
            ("huge", 6),
            ("special", 6),
            ("nan_only", 4),  # one NaN in [0,1] probabilities flips the batch to sigmoid
            ("flip", 6),  # probabilities plus a single 1.01
            ("other_target", 6),  # targets -1 and 2 count as positive (target.bool())
            ("matrix", (3, 4)),  # (N, K) flattened
            ("empty", 0),
        ]:
            shape = n if isinstance(n, tuple) else (n,)
            if kind == "prob_grid":
                x = (rng.integers(0, 5, shape) / 4).astype(dtype)
            elif kind in ("logit_grid", "other_target"):
                x = _scores(rng, shape, "grid", dtype)
            elif kind == "nan_only":
                x = np.array([0.25, 1.0, np.nan, 0.5], dtype)
            elif kind == "flip":
                x = np.array([0.25, 1.0, 0.0, 0.5, 0.75, 1.01], dtype)
            elif kind == "matrix":
                x = (rng.integers(0, 5, shape) / 4).astype(dtype)
            else:
                x = _scores(rng, shape, kind, dtype)
            t = rng.integers(0, 2, shape).astype(np.int64)
            if kind == "prob_grid":
                x[:2] = 1.0
                t[:2] = 1
            if kind == "other_target":
                t[:] = [-1, 2, 0, 1, -1, 0]
            for squared in (
                (False, True) if kind in ("prob_grid", "logit_grid", "special") else (False,)
            ):
                run(
                    "bin",
                    binary_hinge_loss,
                    "torchmetrics.functional.classification.binary_hinge_loss",
                    x,
                    t,
                    dict(squared=squared, dtype=_dt(dtype), kind=kind),
                    "sigmoid",
                    keep(None),
                )
        # ignore_index: -1 (a non-class) and 0 (a real class), and all ignored
        x = _scores(rng, (10,), "grid", dtype)
        x[:3] = [0.25, 0.5, 0.75]
        t = np.array([1, 0, 1, -1, -1, -1, 0, 1, -1, 1], np.int64)
        x_in = (rng.integers(0, 5, 10) / 4).astype(dtype)
        x_in[t == -1] = [3.0, -2.0, 1.5, -0.25]  # dropped: the kept batch stays unsigmoided
        for ignore_index, target, preds, kind in [
            (-1, t, x_in, "ignore_nonclass"),
            (0, t.clip(0, 1), x, "ignore_class"),
            (1, np.ones(4, np.int64), x[:4], "ignore_all"),
        ]:
            for squared in (False, True) if kind == "ignore_nonclass" else (False,):
                run(
                    "bin",
                    binary_hinge_loss,
                    "torchmetrics.functional.classification.binary_hinge_loss",
                    preds.astype(dtype),
                    target,
                    dict(squared=squared, ignore_index=ignore_index, dtype=_dt(dtype), kind=kind),
                    "sigmoid",
                    keep(ignore_index),
                )

    # multiclass_hinge_loss
    modes = ("crammer-singer", "one-vs-all")
    for dtype in DTYPES:
        for kind, (n, c) in [
            ("prob_grid", (8, 4)),  # all in [0,1]: no softmax; ties and kinks
            ("logit_grid", (8, 4)),  # softmax on the whole batch
            ("normal", (6, 5)),
            ("c2", (6, 2)),
            ("huge", (4, 3)),
            ("special", (4, 3)),
            ("flip", (3, 3)),  # probabilities plus a single 1.01
            ("empty", (0, 3)),
        ]:
            if kind == "prob_grid":
                x = (rng.integers(0, 5, (n, c)) / 4).astype(dtype)
            elif kind == "logit_grid":
                x = _scores(rng, (n, c), "grid", dtype)
            elif kind == "flip":
                x = np.array([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0], [0.2, 0.7, 1.01]], dtype)
            else:
                x = _scores(rng, (n, c), "grid" if kind == "c2" else kind, dtype)
            y = rng.integers(0, c, n).astype(np.int64)
            if kind == "prob_grid":  # exact kinks: p_y - max_{j!=y} p_j == 1, and a tie
                x[0] = 0
                x[0, 1] = 1
                y[0] = 1
                x[1] = [0.5, 0.25, 0.5, 0.25]
                y[1] = 3
            for mode in modes:
                for squared in (False, True):
                    # squared: every mode on probabilities, crammer-singer on logits
                    if squared and not (
                        kind == "prob_grid" or (kind == "logit_grid" and mode == "crammer-singer")
                    ):
                        continue
                    run(
                        "mc",
                        multiclass_hinge_loss,
                        "torchmetrics.functional.classification.multiclass_hinge_loss",
                        x,
                        y,
                        dict(
                            num_classes=c,
                            squared=squared,
                            multiclass_mode=mode,
                            dtype=_dt(dtype),
                            kind=kind,
                        ),
                        "softmax",
                        keep(None),
                    )
        # ignore_index: rows removed before the softmax decision
        x = (rng.integers(0, 5, (6, 4)) / 4).astype(dtype)
        x[2] = [2.0, -1.0, 0.5, 0.5]  # only this row is outside [0,1]
        y = np.array([0, 3, -1, 2, 1, 1], np.int64)
        for ignore_index, target, kind in [
            (-1, y, "ignore_nonclass"),  # the logit row is dropped: no softmax
            (1, np.where(y < 0, 2, y), "ignore_class"),  # the logit row stays: softmax
            (1, np.ones(6, np.int64), "ignore_all"),  # crammer-singer raises, one-vs-all nan
        ]:
            for mode in modes:
                run(
                    "mc",
                    multiclass_hinge_loss,
                    "torchmetrics.functional.classification.multiclass_hinge_loss",
                    x,
                    target,
                    dict(
                        num_classes=4,
                        multiclass_mode=mode,
                        ignore_index=ignore_index,
                        dtype=_dt(dtype),
                        kind=kind,
                    ),
                    "softmax",
                    keep(ignore_index),
                )
    # the docstring examples (binary 0.69 / 0.6905; multiclass 0.9125, 1.1131, OVA, logits)
    bp = np.array([0.25, 0.25, 0.55, 0.75, 0.75], np.float32)
    bt = np.array([0, 0, 1, 1, 1])
    mp = np.array(
        [[0.25, 0.20, 0.55], [0.55, 0.05, 0.40], [0.10, 0.30, 0.60], [0.90, 0.05, 0.05]], np.float32
    )
    mt = np.array([0, 1, 2, 0])
    lp = np.array([[-1.0, 0.9, 0.2], [0.5, -1.1, 0.8], [2.2, -0.5, 0.3]], np.float32)
    lt = np.array([0, 1, 2])
    for squared in (False, True):
        run(
            "bin",
            binary_hinge_loss,
            "torchmetrics.functional.classification.binary_hinge_loss",
            bp,
            bt,
            dict(squared=squared, dtype="float32", kind="docstring"),
            "sigmoid",
            keep(None),
        )
    for preds, target, mode, squared in [
        (mp, mt, "crammer-singer", False),
        (mp, mt, "crammer-singer", True),
        (mp, mt, "one-vs-all", False),
        (lp, lt, "crammer-singer", False),
        (lp, lt, "one-vs-all", False),
    ]:
        run(
            "mc",
            multiclass_hinge_loss,
            "torchmetrics.functional.classification.multiclass_hinge_loss",
            preds,
            target,
            dict(
                num_classes=3,
                squared=squared,
                multiclass_mode=mode,
                dtype="float32",
                kind="docstring",
            ),
            "softmax",
            keep(None),
        )
    return cases


# --------------------------------------------------------------------------- jax
@contextlib.contextmanager
def _x64(dtype):
    import jax

    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", dtype == np.float64)
    try:
        yield dtype == np.float64
    finally:
        jax.config.update("jax_enable_x64", old)


def _jax_value_and_grad(fn, x):
    """``fn(x)`` and ``jax.grad`` of its sum, as numpy arrays."""
    import jax
    import jax.numpy as jnp

    xj = jnp.asarray(x)
    value = fn(xj)
    grad = jax.grad(lambda v: jnp.sum(fn(v)))(xj)
    return np.asarray(value), np.asarray(grad)


def _binary_labels(rng, shape, labels):
    if labels == "01":
        return rng.integers(0, 2, shape).astype(float)
    if labels == "pm1":
        return rng.choice([-1.0, 1.0], shape)
    if labels == "mixed":  # one -1 disables keras' 0/1 conversion for the whole batch
        t = rng.choice([-1.0, 0.0, 1.0], shape)
        t.flat[:3] = [-1.0, 0.0, 1.0]
        return t
    raise ValueError(labels)


def keras_cases(rng):
    import jax.numpy as jnp
    import keras

    assert keras.backend.backend() == "jax", keras.backend.backend()
    cases = {}
    n_case = [0]

    def add(prefix, fields):
        cases[f"{prefix}{n_case[0]:03d}"] = fields
        n_case[0] += 1

    fns = {
        "hinge": (keras.losses.hinge, keras.losses.Hinge),
        "squared_hinge": (keras.losses.squared_hinge, keras.losses.SquaredHinge),
        "categorical_hinge": (keras.losses.categorical_hinge, keras.losses.CategoricalHinge),
    }

    def one_hot(rng, n, c):
        return np.eye(c)[rng.integers(0, c, n)] if n else np.zeros((0, c))

    # the functions: per-sample values
    for dtype in DTYPES:
        with _x64(dtype) as x64:
            for name in ("hinge", "squared_hinge"):
                fn = fns[name][0]
                for kind, shape, labels in [
                    ("grid", (10, 1), "01"),
                    ("grid", (10, 1), "pm1"),
                    ("grid", (8, 1), "mixed"),
                    ("grid", (4, 3), "01"),
                    ("grid", (4, 3), "pm1"),
                    ("normal", (6, 1), "01"),
                    ("huge", (5, 1), "pm1"),
                    ("special", (5, 1), "pm1"),
                    ("vector", (6,), "01"),  # 1-D: the last-axis mean gives ONE scalar
                    ("empty", (0, 1), "01"),
                ]:
                    if (name == "squared_hinge" and kind in ("normal", "vector")) or (
                        shape == (4, 3) and labels == "pm1" and name == "squared_hinge"
                    ):
                        continue
                    yp = _scores(rng, shape, "grid" if kind == "vector" else kind, dtype)
                    yt = _binary_labels(rng, shape, labels).astype(dtype)
                    if kind == "grid":  # exact kinks t*f == 1
                        yp.flat[:2] = [1.0, -1.0]
                        yt.flat[:2] = [1.0, -1.0] if labels != "01" else [1.0, 0.0]
                    loss, grad = _jax_value_and_grad(lambda v, f=fn, t=yt: f(jnp.asarray(t), v), yp)
                    add(
                        "fn",
                        dict(
                            y_true=yt,
                            y_pred=yp,
                            loss=loss,
                            grad=grad,
                            kwargs=dict(
                                function=f"keras.losses.{name}",
                                labels=labels,
                                dtype=_dt(dtype),
                                kind=kind,
                                jax_enable_x64=x64,
                            ),
                        ),
                    )
            fn = fns["categorical_hinge"][0]
            for kind, (n, c), labels in [
                ("grid", (8, 4), "onehot"),
                ("normal", (6, 5), "onehot"),
                ("c2", (6, 2), "onehot"),
                ("negative", (4, 3), "onehot"),  # every wrong score < 0: keras != CS
                ("ties", (3, 4), "onehot"),
                ("grid", (5, 3), "pm1"),  # the "{-1,+1}" encoding the docstring allows
                ("huge", (4, 3), "onehot"),
                ("special", (4, 3), "onehot"),
                ("empty", (0, 3), "onehot"),
            ]:
                yt = one_hot(rng, n, c)
                if labels == "pm1":
                    yt = 2 * yt - 1
                if kind == "negative":
                    yp = -np.abs(_scores(rng, (n, c), "grid", np.float64)) - 0.25
                    yp[0, :2], yt[0] = [-3.0, -5.0], [1, 0, 0]  # keras-team/keras#8083
                elif kind == "ties":
                    yp = np.array([[0.0] * 4, [1, 0.5, 1, 1], [0.25, 1.25, 1.25, 0.0]])
                    yt = np.eye(4)[[3, 1, 1]]
                else:
                    yp = _scores(rng, (n, c), "grid" if kind == "c2" else kind, dtype)
                if kind == "grid" and labels == "onehot":  # exact kink s_y - max_j s_j == 1
                    yt[0], yp[0] = [0, 1, 0, 0], [0.0, 1.0, 0.0, -0.5]
                yp, yt = yp.astype(dtype), yt.astype(dtype)
                loss, grad = _jax_value_and_grad(lambda v, f=fn, t=yt: f(jnp.asarray(t), v), yp)
                add(
                    "fn",
                    dict(
                        y_true=yt,
                        y_pred=yp,
                        loss=loss,
                        grad=grad,
                        kwargs=dict(
                            function="keras.losses.categorical_hinge",
                            labels=labels,
                            dtype=_dt(dtype),
                            kind=kind,
                            jax_enable_x64=x64,
                        ),
                    ),
                )

    # the classes: reductions and sample_weight
    reductions = [
        ("sum_over_batch_size", False),
        ("sum_over_batch_size", True),
        ("sum", True),
        ("mean_with_sample_weight", False),  # without weights: / N
        ("mean_with_sample_weight", True),
        ("none", True),
    ]
    for dtype, dtype_arg, subset in [
        (np.float32, None, reductions),
        (np.float64, "float64", reductions),
        (np.float64, None, [("sum_over_batch_size", True)]),  # default dtype: cast to float32
    ]:
        with _x64(dtype) as x64:
            for i, (name, (_, cls)) in enumerate(fns.items()):
                for j, (reduction, weighted) in enumerate(subset):
                    # binary labels alternate between {0,1} and {-1,1}
                    labels = "onehot" if name == "categorical_hinge" else ("01", "pm1")[(i + j) % 2]
                    n = 8
                    if name == "categorical_hinge":
                        yt = one_hot(rng, n, 3)
                        yp = _scores(rng, (n, 3), "grid", dtype)
                    else:
                        yt = _binary_labels(rng, (n, 1), labels)
                        yp = _scores(rng, (n, 1), "grid", dtype)
                    yt = yt.astype(dtype)
                    sw = rng.integers(0, 5, n) / 4 if weighted else None  # zeros included
                    if sw is not None:
                        sw = sw.astype(dtype)
                    obj = cls(reduction=reduction, dtype=dtype_arg)
                    loss, grad = _jax_value_and_grad(
                        lambda v, o=obj, t=yt, w=sw: o(
                            jnp.asarray(t),
                            v,
                            sample_weight=None if w is None else jnp.asarray(w),
                        ),
                        yp,
                    )
                    add(
                        "cls",
                        dict(
                            y_true=yt,
                            y_pred=yp,
                            sample_weight=np.empty(0) if sw is None else sw,
                            loss=loss,
                            grad=grad,
                            kwargs=dict(
                                function=f"keras.losses.{cls.__name__}",
                                reduction=reduction,
                                dtype_arg=dtype_arg,
                                sample_weight=weighted,
                                labels=labels,
                                dtype=_dt(dtype),
                                kind="grid",
                                jax_enable_x64=x64,
                            ),
                        ),
                    )
            if subset is not reductions:
                continue
            # edge cases of the reductions: "mean", Σw = 0, empty batch
            for reduction, sw, n, kind in [
                ("mean", None, 5, "grid"),
                ("mean_with_sample_weight", np.zeros(5), 5, "zero_weights"),
                ("sum_over_batch_size", None, 0, "empty"),
                ("sum", None, 0, "empty"),
            ]:
                yt = _binary_labels(rng, (n, 1), "pm1").astype(dtype)
                yp = _scores(rng, (n, 1), "grid", dtype)
                obj = keras.losses.Hinge(reduction=reduction, dtype=dtype_arg)
                w = None if sw is None else sw.astype(dtype)
                loss, grad = _jax_value_and_grad(
                    lambda v, o=obj, t=yt, w=w: o(
                        jnp.asarray(t), v, sample_weight=None if w is None else jnp.asarray(w)
                    ),
                    yp,
                )
                add(
                    "cls",
                    dict(
                        y_true=yt,
                        y_pred=yp,
                        sample_weight=np.empty(0) if w is None else w,
                        loss=loss,
                        grad=grad,
                        kwargs=dict(
                            function="keras.losses.Hinge",
                            reduction=reduction,
                            dtype_arg=dtype_arg,
                            sample_weight=w is not None,
                            labels="pm1",
                            dtype=_dt(dtype),
                            kind=kind,
                            jax_enable_x64=x64,
                        ),
                    ),
                )
    # hinge-semantics.md §5: losses [0, 0, 1, 4], weights [1/4, 1/2, 3/4, 1]
    # -> 1.1875 (sum_over_batch_size and mean), 4.75 (sum), 1.9 (mean_with_sample_weight)
    yt = np.ones((4, 1), np.float32)
    yp = np.array([[1.0], [2.0], [0.0], [-1.0]], np.float32)
    sw = np.array([0.25, 0.5, 0.75, 1.0], np.float32)
    for reduction in ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight"):
        obj = keras.losses.SquaredHinge(reduction=reduction)
        loss, grad = _jax_value_and_grad(
            lambda v, o=obj: o(jnp.asarray(yt), v, sample_weight=jnp.asarray(sw)), yp
        )
        add(
            "cls",
            dict(
                y_true=yt,
                y_pred=yp,
                sample_weight=sw,
                loss=loss,
                grad=grad,
                kwargs=dict(
                    function="keras.losses.SquaredHinge",
                    reduction=reduction,
                    dtype_arg=None,
                    sample_weight=True,
                    labels="pm1",
                    dtype="float32",
                    kind="reduction_example",
                    jax_enable_x64=False,
                ),
            ),
        )
    return cases


def optax_cases(rng):
    import jax.numpy as jnp
    import optax

    cases = {}
    n_case = [0]

    def add(prefix, fields):
        cases[f"{prefix}{n_case[0]:03d}"] = fields
        n_case[0] += 1

    for dtype in DTYPES:
        with _x64(dtype) as x64:
            for name in ("hinge_loss", "perceptron_loss"):
                fn = getattr(optax.losses, name)
                kink = 1.0 if name == "hinge_loss" else 0.0
                for kind, shape, labels in [
                    ("grid", (12,), "pm1"),
                    ("grid", (8,), "01"),  # used as-is: t = 0 gives a constant
                    ("normal", (8,), "pm1"),
                    ("matrix", (3, 4), "pm1"),
                    ("huge", (6,), "pm1"),
                    ("special", (6,), "pm1"),
                    ("empty", (0,), "pm1"),
                ]:
                    f = _scores(rng, shape, "grid" if kind == "matrix" else kind, dtype)
                    t = _binary_labels(rng, shape, labels)
                    if kind == "grid":  # exact kinks t*f == margin
                        f.flat[:2] = [kink, -kink]
                        t.flat[:2] = [1.0, -1.0] if labels == "pm1" else [1.0, 1.0]
                    t = t.astype(dtype)
                    loss, grad = _jax_value_and_grad(lambda v, fn=fn, t=t: fn(v, jnp.asarray(t)), f)
                    add(
                        "bin",
                        dict(
                            predictor_outputs=f,
                            targets=t,
                            loss=loss,
                            grad=grad,
                            kwargs=dict(
                                function=f"optax.losses.{name}",
                                labels=labels,
                                dtype=_dt(dtype),
                                kind=kind,
                                jax_enable_x64=x64,
                            ),
                        ),
                    )
            for name in ("multiclass_hinge_loss", "multiclass_perceptron_loss"):
                fn = getattr(optax.losses, name)
                for kind, (n, c) in [
                    ("grid", (8, 4)),
                    ("kinks", (6, 3)),
                    ("out_of_range", (4, 3)),  # labels -1 and C: no error, a zero one-hot row
                    ("normal", (6, 5)),
                    ("c2", (6, 2)),
                    ("huge", (4, 3)),
                    ("special", (4, 3)),
                    ("empty", (0, 4)),
                ]:
                    s = _scores(
                        rng, (n, c), "grid" if kind in ("kinks", "out_of_range") else kind, dtype
                    )
                    y = rng.integers(0, c, n)
                    if kind == "kinks":
                        s[:] = [
                            [0.0, 1.0, 0.0],  # kink, three-way tie
                            [0.5, 1.5, -1.0],  # kink, tie of y and one j
                            [2.0, 0.0, 2.0],
                            [0.0, 0.0, 0.0],  # tie of two wrong classes
                            [1e-8, -5.0, -5.0],  # float32 rounding: -1e-8 instead of 0
                            [0.25, 0.25, 0.25],
                        ]
                        y[:] = [1, 1, 0, 2, 0, 1]
                    if kind == "out_of_range":
                        y[:] = [-1, c, 0, -1]
                    loss, grad = _jax_value_and_grad(lambda v, fn=fn, y=y: fn(v, jnp.asarray(y)), s)
                    add(
                        "mc",
                        dict(
                            scores=s,
                            labels=y,
                            loss=loss,
                            grad=grad,
                            kwargs=dict(
                                function=f"optax.losses.{name}",
                                dtype=_dt(dtype),
                                kind=kind,
                                jax_enable_x64=x64,
                            ),
                        ),
                    )
    # float32 scores with jax_enable_x64 on: one_hot is float64, so the result is float64
    with _x64(np.float64):
        s = np.array([[1e-8, -5.0], [0.1, 0.2]], np.float32)
        y = np.array([0, 1])
        for name in ("multiclass_hinge_loss", "multiclass_perceptron_loss"):
            fn = getattr(optax.losses, name)
            loss, grad = _jax_value_and_grad(lambda v, fn=fn: fn(v, jnp.asarray(y)), s)
            add(
                "mc",
                dict(
                    scores=s,
                    labels=y,
                    loss=loss,
                    grad=grad,
                    kwargs=dict(
                        function=f"optax.losses.{name}",
                        dtype="float32",
                        kind="float32_under_x64",
                        jax_enable_x64=True,
                    ),
                ),
            )
    return cases


# -------------------------------------------------------------------------- sklearn
def sklearn_cases(rng):
    from sklearn.linear_model import _sgd_fast
    from sklearn.metrics import hinge_loss

    cases = {}
    n_case = [0]

    def add(prefix, fields):
        cases[f"{prefix}{n_case[0]:03d}"] = fields
        n_case[0] += 1

    def metric(y, d, kind, dtype, labels=None, sample_weight=None):
        kw = dict(
            function="sklearn.metrics.hinge_loss",
            labels=labels,
            sample_weight=sample_weight is not None,
            dtype=_dt(dtype),
            kind=kind,
        )
        fields = dict(
            y_true=np.asarray(y),
            pred_decision=np.asarray(d, dtype),
            sample_weight=np.empty(0)
            if sample_weight is None
            else np.asarray(sample_weight, dtype),
        )
        try:
            loss = hinge_loss(
                fields["y_true"],
                fields["pred_decision"],
                labels=labels,
                sample_weight=None if sample_weight is None else fields["sample_weight"],
            )
            fields["loss"] = np.asarray(loss)
            kw["returns"] = type(loss).__name__
        except Exception as exc:
            kw["error"] = _err(exc)
        fields["kwargs"] = kw
        add("metric", fields)

    for dtype in DTYPES:
        full = dtype == np.float64  # float32: fewer cases (sklearn computes in float32)
        metric([-1, 1, 1], [-2.18, 2.36, 0.09], "docstring", dtype)
        for labels in (None, [-1, 1], [0, 1]) if full else (None,):  # one class: all -1
            metric([1, 1, 1], [0.5, 0.5, 2.0], "single_class", dtype, labels=labels)
        metric([0, 0, 0], [0.5, -1.0, 2.0], "single_class", dtype)
        if not full:
            for weighted in (False, True):
                y = rng.choice([0, 1], 12)
                w = rng.integers(0, 9, 12) / 4 if weighted else None
                metric(y, _grid(rng, 12, -8, 8), "grid_01", dtype, sample_weight=w)
            continue
        for enc, values in (("01", [0, 1]), ("pm1", [-1, 1]), ("37", [3, 7])):
            for weighted in (False, True):
                y = rng.choice(values, 12)
                y[:2] = values
                d = _grid(rng, 12, -8, 8)
                d[:2] = [-1.0, 1.0]  # exact kinks
                w = rng.integers(0, 9, 12) / 4 if weighted else None
                metric(y, d, f"grid_{enc}", dtype, sample_weight=w)
        y = rng.choice([0, 1], 8)
        metric(y, rng.standard_normal(8), "labels_arg", dtype, labels=[0, 1])
        metric(y, rng.standard_normal(8), "labels_arg_unsorted", dtype, labels=[1, 0])
        # multiclass with labels given unsorted: the columns follow the SORTED labels
        y = np.array([2, 0, 1, 1, 0, 2])
        metric(y, _grid(rng, (6, 3)), "multiclass_unsorted_labels", dtype, labels=[2, 0, 1])
        # errors
        metric([0, 1, 1], [0.5, np.nan, 1.0], "special", dtype)
        metric([0, 1, 1], [0.5, -1.0, 1.0], "zero_weight_sum", dtype, sample_weight=[0, 0, 0])
        metric(np.zeros(0, int), np.zeros(0), "empty", dtype)
        metric([0, 1, 1], [[0.5, 0.0], [0.0, 1.0], [1.0, -1.0]], "c2_matrix", dtype)

    # _sgd_fast loss objects (double precision only): value and derivative w.r.t. p
    objects = [
        ("Hinge", 1.0),
        ("Hinge", 0.5),
        ("Hinge", 0.0),
        ("SquaredHinge", 1.0),
        ("SquaredHinge", 0.5),
        ("SquaredHinge", 0.0),
        ("ModifiedHuber", None),
    ]
    big = _huge(np.float64)
    for cls_name, threshold in objects:
        obj = (
            getattr(_sgd_fast, cls_name)()
            if threshold is None
            else getattr(_sgd_fast, cls_name)(threshold)
        )
        th = 1.0 if threshold is None else threshold
        for kind in ("grid", "special"):
            if kind == "grid":
                # a 1/4 grid for both labels; z = p*y exactly at threshold, -1, 0, 1 and
                # one ulp-ish either side of the threshold; random normal scores
                zs = np.array([th, -1.0, 0.0, 1.0, th + 2**-40, th - 2**-40])
                p = np.concatenate(
                    [np.tile(np.arange(-12, 13) / 4, 2), zs, -zs, rng.standard_normal(10) * 2]
                )
                y = np.concatenate(
                    [
                        np.repeat([-1.0, 1.0], 25),
                        np.repeat([1.0, -1.0], 6),
                        rng.choice([-1.0, 1.0], 10),
                    ]
                )
            else:
                p = np.array([np.nan, np.nan, np.inf, -np.inf, np.inf, -np.inf, big, -big])
                y = np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0])
            loss = np.array([obj.py_loss(a, b) for a, b in zip(p, y, strict=True)])
            dloss = np.array([obj.py_dloss(a, b) for a, b in zip(p, y, strict=True)])
            kw = dict(
                function=f"sklearn.linear_model._sgd_fast.{cls_name}",
                methods=["py_loss", "py_dloss"],
                dtype="float64",
                kind=kind,
            )
            if threshold is not None:
                kw["threshold"] = threshold
            add("sgd", dict(p=p, y=y, loss=loss, grad=dloss, kwargs=kw))
    return cases


# ----------------------------------------------------------------------------- main
PEERS = {
    "torch": torch_cases,
    "torchmetrics": torchmetrics_cases,
    "keras": keras_cases,
    "optax": optax_cases,
    "sklearn": sklearn_cases,
}


def _versions():
    from importlib.metadata import version

    out = dict(python=platform.python_version(), platform=platform.platform())
    for dist in (
        "numpy",
        "torch",
        "torchmetrics",
        "scikit-learn",
        "keras",
        "jax",
        "jaxlib",
        "optax",
    ):
        out[dist] = version(dist)
    import torch

    out["torch"] = torch.__version__
    out["keras_backend"] = os.environ["KERAS_BACKEND"]
    return out


def main(argv):
    peers = argv or list(PEERS)
    versions = _versions()
    for k, peer in enumerate(PEERS):
        if peer not in peers:
            continue
        path = HERE / f"compat_{peer}.npz"
        cases = PEERS[peer](np.random.default_rng(SEED + k))
        _save(
            path, cases, dict(versions, generator="tests/golden/generate_compat.py", seed=SEED + k)
        )
        loaded, v = load(path)
        assert set(loaded) == set(cases) and v["numpy"] == versions["numpy"]


if __name__ == "__main__":
    main(sys.argv[1:])
