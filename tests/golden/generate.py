"""Write the parity vectors that CI reads, by running the real peer libraries.

Run by hand, with the peers installed (``pip install -e ".[golden]"``)::

    python tests/golden/generate.py

It writes ``torch.npz`` (PyTorch ``F.multi_margin_loss``: loss and autograd
gradient) and ``sklearn.npz`` (``sklearn.metrics.hinge_loss``) beside itself.
Each case is stored as ``<case>__<field>`` arrays, with its keyword arguments
as a JSON string in ``<case>__kwargs``. The versions used are stored under
``versions``.
"""

from __future__ import annotations

import json
import pathlib
import platform

import numpy as np

HERE = pathlib.Path(__file__).parent
SEED = 20261128


def _inputs(rng, n, c, kind, dtype):
    if kind == "grid":  # multiples of 1/4: exact kinks and ties
        s = rng.integers(-6, 7, size=(n, c)) / 4
    elif kind == "normal":
        s = rng.standard_normal((n, c)) * 2
    elif kind == "huge":
        s = rng.standard_normal((n, c)) * (1e18 if dtype == np.float32 else 1e150)
    elif kind == "special":  # ±inf and NaN (PyTorch eager drops NaN terms)
        s = rng.standard_normal((n, c))
        s.flat[rng.choice(n * c, 3, replace=False)] = [np.inf, -np.inf, np.nan]
    return s.astype(dtype), rng.integers(0, c, n)


def torch_cases(rng):
    import torch
    import torch.nn.functional as F

    cases = {}
    seed = dict(scores=np.array([[0.1, 0.2, 0.4, 0.8]]), labels=np.array([3]))
    specs = []
    for dtype in (np.float32, np.float64):
        specs.append(("seed", dtype, 1, 1.0, False, "mean", seed))
        for kind, (n, c) in [
            ("grid", (9, 4)),
            ("normal", (9, 5)),
            ("grid", (8, 2)),
            ("huge", (5, 6)),
            ("special", (6, 5)),
            ("normal", (3, 1)),
        ]:
            for p in (1, 2):
                for margin in (1.0, 0.1, 0.0):
                    for weighted in (False, True):
                        for reduction in ("mean", "sum", "none"):
                            specs.append((kind, dtype, p, margin, weighted, reduction, (n, c)))
    for k, (kind, dtype, p, margin, weighted, reduction, shape) in enumerate(specs):
        if kind == "seed":
            s, y = shape["scores"].astype(dtype), shape["labels"]
        else:
            s, y = _inputs(rng, *shape, kind, dtype)
        w = rng.uniform(0.25, 3.0, s.shape[1]).astype(dtype) if weighted else None
        x = torch.tensor(s, requires_grad=True)
        loss = F.multi_margin_loss(
            x,
            torch.tensor(y),
            p=p,
            margin=margin,
            weight=None if w is None else torch.tensor(w),
            reduction=reduction,
        )
        (loss.sum() if reduction == "none" else loss).backward()
        kwargs = dict(
            p=p,
            margin=margin,
            reduction=reduction,
            nan="drop" if kind == "special" else "propagate",
        )
        cases[f"torch{k:03d}"] = dict(
            scores=s,
            labels=y,
            class_weight=np.empty(0) if w is None else w,
            loss=loss.detach().numpy(),
            grad=x.grad.numpy(),
            kwargs=kwargs,
        )
    return cases


def sklearn_cases(rng):
    from sklearn.metrics import hinge_loss

    cases = {}
    k = 0
    for dtype in (np.float32, np.float64):
        for kind, (n, c) in [("grid", (11, 3)), ("normal", (17, 5)), ("grid", (30, 8))]:
            for weighted in (False, True):
                s, y = _inputs(rng, n, c, kind, dtype)
                w = rng.uniform(0.1, 2.0, n).astype(dtype) if weighted else None
                loss = hinge_loss(y, s, labels=np.arange(c), sample_weight=w)
                cases[f"sk_multi{k:03d}"] = dict(
                    scores=s,
                    labels=y,
                    sample_weight=np.empty(0) if w is None else w,
                    loss=np.asarray(loss),
                    kwargs=dict(kind="multiclass"),
                )
                k += 1
        for encoding, values in (("pm1", [-1, 1]), ("01", [0, 1])):
            for weighted in (False, True):
                f = (rng.integers(-8, 9, 25) / 4).astype(dtype)
                t = rng.choice(values, 25)
                w = rng.uniform(0.1, 2.0, 25).astype(dtype) if weighted else None
                loss = hinge_loss(t, f, sample_weight=w)
                cases[f"sk_binary{k:03d}"] = dict(
                    scores=f,
                    labels=t,
                    sample_weight=np.empty(0) if w is None else w,
                    loss=np.asarray(loss),
                    kwargs=dict(kind="binary", label_encoding=encoding),
                )
                k += 1
    return cases


def _save(path, cases, versions):
    flat = {"versions": np.array(json.dumps(versions))}
    for name, fields in cases.items():
        for field, value in fields.items():
            flat[f"{name}__{field}"] = (
                np.array(json.dumps(value)) if field == "kwargs" else np.asarray(value)
            )
    np.savez_compressed(path, **flat)
    print(f"wrote {path} ({len(cases)} cases, {path.stat().st_size} bytes)")


def load(path):
    """``{case: {field: value}}`` and the versions, as written by ``_save``."""
    data = np.load(path)
    cases = {}
    for key in data.files:
        if key == "versions":
            continue
        name, field = key.split("__")
        value = data[key]
        cases.setdefault(name, {})[field] = json.loads(str(value)) if field == "kwargs" else value
    return cases, json.loads(str(data["versions"]))


def main():
    import sklearn
    import torch

    versions = dict(
        torch=torch.__version__,
        sklearn=sklearn.__version__,
        numpy=np.__version__,
        python=platform.python_version(),
    )
    _save(HERE / "torch.npz", torch_cases(np.random.default_rng(SEED)), versions)
    _save(HERE / "sklearn.npz", sklearn_cases(np.random.default_rng(SEED + 1)), versions)


if __name__ == "__main__":
    main()
