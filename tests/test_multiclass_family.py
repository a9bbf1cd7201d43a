"""one_vs_all, structured_hinge, topk_hinge, categorical_hinge, multilabel_margin vs references."""

import itertools

import numpy as np
import pytest
import reference as ref
import reference_topk as ref_topk
from conftest import assert_close, grid_scores

import fasthinge as fh

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["mean", "sum", "none", "sum_over_batch_size"]


def _check(loss, grad, rows, y, dtype, reduction="mean", sample_weight=None, ignore_index=None):
    el, eg = ref.reduce(
        *rows, y, reduction=reduction, sample_weight=sample_weight, ignore_index=ignore_index
    )
    assert grad.dtype == dtype
    assert_close(loss, el, dtype)
    assert_close(grad, eg, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_one_vs_all(rng, dtype, reduction):
    S = grid_scores(rng, (29, 5), dtype)
    y = rng.integers(0, 5, 29)
    sw = rng.uniform(0.5, 2, 29).astype(dtype)
    for p, margin, normalize, kink, ignore in itertools.product(
        [1, 2], [1.0, 0.5], [False, True], ["zero", "full", "half"], [None, 3]
    ):
        kw = dict(margin=margin, p=p, normalize=normalize, kink=kink, ignore_index=ignore)
        loss, grad = fh.one_vs_all(S, y, sample_weight=sw, reduction=reduction, **kw)
        _check(loss, grad, ref.one_vs_all_rows(S, y, **kw), y, dtype, reduction, sw, ignore)


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_vs_all_per_class(rng, dtype):
    S = grid_scores(rng, (300, 4), dtype)
    y = rng.integers(0, 4, 300)
    y[::7] = -1
    sw = rng.uniform(0.5, 2, 300)
    per_class, grad = fh.one_vs_all(S, y, reduction="per_class", sample_weight=sw, ignore_index=-1)
    kept = y != -1
    elementwise = np.maximum(0, 1 - np.where(np.arange(4) == y[:, None], 1, -1) * S)
    expected = (elementwise[kept] * sw[kept, None]).sum(0) / sw[kept].sum()
    assert per_class.shape == (4,) and per_class.dtype == dtype
    assert_close(per_class, expected, dtype)
    _, mean_grad = fh.one_vs_all(S, y, sample_weight=sw, ignore_index=-1)
    np.testing.assert_array_equal(grad, mean_grad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rescaling", ["margin", "slack"])
def test_structured_hinge(rng, dtype, rescaling):
    S = grid_scores(rng, (37, 5), dtype)
    y = rng.integers(0, 5, 37)
    cost = rng.integers(0, 4, (5, 5)) / 2
    np.fill_diagonal(cost, 0)
    for kink, ties, reduction in itertools.product(
        ["zero", "full", "half"], ["first", "split"], ["sum", "none", "mean"]
    ):
        loss, grad = fh.structured_hinge(
            S, y, cost, rescaling=rescaling, kink=kink, ties=ties, reduction=reduction
        )
        rows = ref.structured_rows(S, y, cost, rescaling=rescaling, kink=kink, ties=ties)
        _check(loss, grad, rows, y, dtype, reduction)


@pytest.mark.parametrize("dtype", DTYPES)
def test_margin_rescaling_with_zero_one_cost_is_crammer_singer(rng, dtype):
    S = grid_scores(rng, (60, 6), dtype)
    y = rng.integers(0, 6, 60)
    cost = 1 - np.eye(6)
    for kink, ties in itertools.product(["zero", "full", "half"], ["first", "split"]):
        a = fh.structured_hinge(S, y, cost, kink=kink, ties=ties, reduction="none")
        b = fh.crammer_singer(S, y, kink=kink, ties=ties, reduction="none")
        assert_close(a[0], b[0], dtype)
        assert_close(a[1], b[1], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["alpha", "beta"])
def test_topk_hinge(rng, dtype, variant):
    S = grid_scores(rng, (41, 7), dtype)
    y = rng.integers(0, 7, 41)
    rows_fn = ref_topk.topk_alpha_rows if variant == "alpha" else ref_topk.topk_beta_rows
    for k, margin, kink in itertools.product([1, 2, 3, 6], [1.0, 0.5], ["zero", "full", "half"]):
        loss, grad = fh.topk_hinge(
            S, y, k, variant=variant, margin=margin, kink=kink, reduction="none"
        )
        rl, rg = rows_fn(S, y, k, margin, kink=kink)
        assert_close(loss, rl, dtype)
        assert_close(grad, rg, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_classes", [31, 100, 200, 1001])
def test_topk_hinge_wide_rows(rng, dtype, n_classes):
    """Rows wider than the bands: the row code tests blocks of 16 columns at once, and
    lists the columns at or above the k-th largest by packing each block's (AVX-512,
    up to ``structured.PACK_CLASSES_A_K`` · k classes: k = 1 at 100, 5–30 at 200, 8–30
    at 1001) or by walking its bits.

    Coarse scores (ties across blocks, k-th value shared by many columns), a
    partial last block, a NaN and ±inf in a column whose block would be
    skipped, and k on both sides of the compare-exchange/insertion switch.
    """
    S = grid_scores(rng, (12, n_classes), dtype)
    y = rng.integers(0, n_classes, 12)
    y[:3] = [0, n_classes - 1, 16]  # the label first, last, and first of a block
    S[3] = 0.0
    S[3, n_classes // 2 + 1] = np.nan  # a NaN where the running k-th largest is 0
    S[4, n_classes - 1] = np.nan  # in the partial last block
    S[5, 20] = np.inf
    S[6, ::3] = -np.inf
    y[6] = 3  # s_y = −inf: h = inf − inf (NaN) in the −inf columns, in the top k for large k
    S[7] = -np.inf
    for k, variant in itertools.product([1, 5, 8, 9, 30], ["alpha", "beta"]):
        rows_fn = ref_topk.topk_alpha_rows if variant == "alpha" else ref_topk.topk_beta_rows
        loss, grad = fh.topk_hinge(S, y, k, variant=variant, reduction="none")
        with np.errstate(invalid="ignore"):
            rl, rg = rows_fn(S, y, k)
        assert_close(loss, rl, dtype)
        assert_close(grad, rg, dtype)


def test_topk_k1_is_crammer_singer(rng):
    S = rng.standard_normal((50, 8))
    y = rng.integers(0, 8, 50)
    cs = fh.crammer_singer(S, y, reduction="none")
    for variant in ("alpha", "beta"):
        tk = fh.topk_hinge(S, y, 1, variant=variant, reduction="none")
        np.testing.assert_allclose(tk[0], cs[0], rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(tk[1], cs[1], rtol=1e-14, atol=1e-15)


def test_topk_split_ties_share_the_boundary():
    S = np.array([[0.0, 1.0, 1.0, 1.0]])  # y = 0; three wrong scores tie for k = 2
    loss, grad = fh.topk_hinge(S, [0], 2, ties="split", reduction="sum")
    assert float(loss) == 2.0
    np.testing.assert_allclose(grad, [[-1.0, 1 / 3, 1 / 3, 1 / 3]])
    _, grad = fh.topk_hinge(S, [0], 2, ties="first", reduction="sum")
    np.testing.assert_allclose(grad, [[-1.0, 0.5, 0.5, 0.0]])


def test_topk_validation():
    S = np.zeros((3, 4))
    for bad in (0, 4, -1):
        with pytest.raises(ValueError, match=r"k must be in \[1, 3\]"):
            fh.topk_hinge(S, [0, 1, 2], bad)
    with pytest.raises(TypeError, match="k must be an integer"):
        fh.topk_hinge(S, [0, 1, 2], 1.5)
    with pytest.raises(ValueError, match="variant must be one of"):
        fh.topk_hinge(S, [0, 1, 2], 1, variant="gamma")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("soft", [False, True])
def test_categorical_hinge(rng, dtype, soft):
    S = grid_scores(rng, (33, 4), dtype)
    y = rng.integers(0, 4, 33)
    T = np.eye(4)[y]
    if soft:
        T = rng.dirichlet(np.ones(4), 33).round(2)
    for kink, ties, reduction in itertools.product(
        ["zero", "full", "half"], ["first", "split"], ["sum", "none", "mean"]
    ):
        loss, grad = fh.categorical_hinge(S, T, kink=kink, ties=ties, reduction=reduction)
        rows = ref.categorical_hinge_rows(S, T.astype(dtype), kink=kink, ties=ties)
        _check(loss, grad, rows, y, dtype, reduction)


def test_categorical_hinge_keras_8083_and_docs_gradient():
    loss = fh.categorical_hinge(np.array([[-3.0, -5.0]]), np.array([[1.0, 0.0]]), return_grad=False)
    assert float(loss) == 4.0
    assert float(fh.crammer_singer(np.array([[-3.0, -5.0]]), [0], return_grad=False)) == 0.0
    _, grad = fh.categorical_hinge(np.zeros((1, 4)), np.eye(4)[[3]], reduction="sum")
    np.testing.assert_allclose(grad, [[0.25, 0.25, 0.25, -1.0]])  # hinge-semantics.md §5


@pytest.mark.parametrize("n_classes", [3, 300])  # one chunk, and 2 of the parallel check's
@pytest.mark.parametrize(
    ("entries", "message"),
    [([((1, 2), -1.0)], "be finite and >= 0, got cost[1, 2] = -1.0"),
     ([((2, 0), np.nan), ((2, 1), -1.0)], "be finite and >= 0, got cost[2, 0] = nan"),
     ([((0, 1), np.inf)], "be finite and >= 0, got cost[0, 1] = inf"),
     ([((2, 1), -np.inf), ((2, 2), 1.0)], "be finite and >= 0, got cost[2, 1] = -inf"),
     ([((1, 1), 2.0), ((2, 0), -1.0)], "have a zero diagonal, got cost[1, 1] = 2.0"),
     ([((2, 2), -3.0)], "be finite and >= 0, got cost[2, 2] = -3.0"),
     ([((0, 0), np.nan)], "be finite and >= 0, got cost[0, 0] = nan"),
     ([((1, 0), -1e-300)], "be finite and >= 0, got cost[1, 0] = -1e-300")],
)  # fmt: skip
@pytest.mark.parametrize("n_threads", [1, 2])
def test_cost_errors_name_the_first_bad_entry(entries, message, n_classes, n_threads):
    """Row-major first, as the GPU path's check; the same on the small path.

    Every row is selected (the labels walk past the last class) and, at 300
    classes, read by the parallel check.
    """
    scores = np.zeros((n_classes + 1, n_classes))
    labels = np.arange(n_classes + 1) % n_classes
    cost = 1 - np.eye(n_classes)
    for (i, j), value in entries:  # row 2 of the list is the last row (past the first chunk)
        cost[n_classes - 1 if i == 2 else i, j] = value
    message = message.replace("cost[2,", f"cost[{n_classes - 1},")
    pattern = "cost must " + message.replace("[", r"\[").replace("]", r"\]").replace("+", r"\+")
    with pytest.raises(ValueError, match=pattern):
        fh.structured_hinge(scores, labels, cost, n_threads=n_threads)  # the general path
    with pytest.raises(ValueError, match=pattern):
        fh.structured_hinge(scores, labels, cost)  # the small path, then the general one
    assert cost[0, 0] == 0 or np.isnan(cost[0, 0])  # the input is not modified


@pytest.mark.parametrize("n_classes", [3, 300])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_only_the_cost_rows_the_labels_select_are_checked(n_classes, n_threads):
    """A bad entry in a row that no label selects (or only an ignored one) raises nothing.

    The loss never reads such a row: the results are those with a valid
    matrix. With at least C² labels the whole matrix is read first; with a bad
    entry there, the labels decide as without. At 300 classes the rows are read
    by the parallel check.
    """
    rng = np.random.default_rng(3)
    for n_rows in (7, n_classes * n_classes + 1 if n_classes < 100 else 2 * n_classes):
        labels = rng.integers(0, n_classes - 1, n_rows)  # never the last class
        labels[::5] = -100
        scores = rng.standard_normal((n_rows, n_classes))
        valid = 1 - np.eye(n_classes)
        bad = valid.copy()
        bad[-1, 0], bad[-1, -1] = np.nan, 2.0  # the last row: invalid twice over
        kwargs = dict(ignore_index=-100, n_threads=n_threads, reduction="sum")
        expected = fh.structured_hinge(scores, labels, valid, **kwargs)
        result = fh.structured_hinge(scores, labels, bad, **kwargs)
        assert float(result[0]) == float(expected[0])
        np.testing.assert_array_equal(result[1], expected[1])
        labels[-1] = n_classes - 1  # now a label selects it
        with pytest.raises(ValueError, match=rf"cost\[{n_classes - 1}, 0\] = nan"):
            fh.structured_hinge(scores, labels, bad, **kwargs)
    small = np.zeros((2, n_classes))
    assert float(fh.structured_hinge(small, np.array([0, 1]), bad)[0]) == 1.0  # the small path


def test_validation_of_family_arguments():
    S = np.zeros((2, 3))
    with pytest.raises(ValueError, match="cost must have a zero diagonal"):
        fh.structured_hinge(S, [0, 1], np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"cost must have shape \(3, 3\)"):
        fh.structured_hinge(S, [0, 1], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="cost must be finite and >= 0"):
        fh.structured_hinge(S, [0, 1], -(1 - np.eye(3)))
    with pytest.raises(ValueError, match="rescaling must be one of"):
        fh.structured_hinge(S, [0, 1], 1 - np.eye(3), rescaling="both")
    with pytest.raises(ValueError, match=r"targets must have shape \(2, 3\)"):
        fh.categorical_hinge(S, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"targets must be in \[-1, 3\), got targets\[0, 1\] = 3"):
        fh.multilabel_margin(S, np.array([[0, 3, -1], [0, -1, 0]]))
    bad = np.zeros((300, 3), np.int64)  # the first bad entry in row order is reported
    bad[[7, 250], [2, 0]] = [-2, 5]
    with pytest.raises(ValueError, match=r"got targets\[7, 2\] = -2"):
        fh.multilabel_margin(np.zeros((300, 3)), bad, n_threads=2)
    with pytest.raises(TypeError, match="targets must be integers"):
        fh.multilabel_margin(S, np.zeros((2, 3)))


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multilabel_margin_live_torch(rng, dtype, reduction):
    S = grid_scores(rng, (20, 6), dtype)
    targets = np.full((20, 6), -1)
    for i in range(20):
        chosen = rng.choice(6, rng.integers(0, 6), replace=False)
        targets[i, : len(chosen)] = chosen
    targets[3] = [1, 4, -1, 5, 0, 2]  # entries after the first -1 are ignored
    targets[4] = [2, 2, 0, -1, -1, -1]  # a repeated target counts twice, as in PyTorch
    x = torch.tensor(S, requires_grad=True)
    out = torch.nn.functional.multilabel_margin_loss(x, torch.tensor(targets), reduction=reduction)
    (out.sum() if reduction == "none" else out).backward()
    loss, grad = fh.multilabel_margin(S, targets, reduction=reduction)
    assert_close(loss, out.detach().numpy(), dtype)
    np.testing.assert_array_equal(grad, x.grad.numpy())


def test_topk_infinite_scores_give_nan_not_zero():
    """inf − inf inside the top-k sum is NaN (it used to be dropped to 0)."""
    for S, k in ((np.array([[np.inf, np.inf, 0.0]]), 1), (np.array([[-np.inf, -np.inf, 0.0]]), 2)):
        for variant in ("alpha", "beta"):
            loss, grad = fh.topk_hinge(S, [0], k, variant=variant, reduction="none")
            assert np.isnan(loss[0]) and np.isnan(grad).all()


def test_topk_needs_two_classes():
    with pytest.raises(ValueError, match="top-k needs at least 2 classes"):
        fh.topk_hinge(np.full((2, 1), 0.5), [0, 0], 1)


def test_modified_huber_linear_piece_is_exactly_sklearns():
    loss = fh.modified_huber(np.array([-1.3, -7.1]), [1, 1], reduction="none", return_grad=False)
    assert loss.tolist() == [-4 * -1.3, -4 * -7.1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cost_chunk_and_its_numpy_twin_agree(dtype):
    """The compiled sweep and the NumPy twin that JIT-free runs use find the same entry."""
    from fasthinge._cpu import labels

    rng = np.random.default_rng(3)
    for bad in (None, -1.0, np.nan, np.inf, -np.inf, -0.0, np.finfo(dtype).tiny * -0.5):
        flat = rng.random(1000).astype(dtype)
        if bad is not None:
            flat[[137, 600]] = bad
        for c, chunk in ((0, 1000), (1, 300), (2, 300), (3, 300)):
            expected = labels._cost_chunk_python(c, flat, chunk)
            assert labels.cost_chunk(c, flat, chunk) == expected
        first = 1000 if bad is None or bad == 0 else 137  # -0.0 is >= 0; a subnormal < 0 is not
        assert labels.cost_chunk(0, flat, 1000) == first
        assert labels.cost_chunk(2, flat, 300) == (1000 if first == 1000 else 600)  # 600..899
