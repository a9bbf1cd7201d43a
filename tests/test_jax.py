"""fasthinge.jax: custom_vjp over pure_callback, inside jit/grad/vmap, against optax and NumPy."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import grid_scores

import fasthinge as fh

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
fj = pytest.importorskip("fasthinge.jax")
jnp = jax.numpy


def _value_and_grad(loss_fn, scores, *rest, weights=None):
    """jit(value_and_grad) of Σ weights·loss (a non-uniform upstream cotangent)."""

    def objective(s):
        loss = loss_fn(s, *rest)
        return jnp.sum(loss if weights is None else loss * weights), loss

    return jax.jit(jax.value_and_grad(objective, has_aux=True))(scores)


@pytest.mark.parametrize("name", ["multiclass_hinge_loss", "multiclass_perceptron_loss"])
def test_optax_multiclass_equals_optax(rng, name):
    s = jnp.asarray(grid_scores(rng, (60, 5), np.float32))  # ties, kinks: ½ and equal splits
    y = jnp.asarray(rng.integers(0, 5, 60), dtype=jnp.int32)
    w = jnp.asarray(rng.random(60), dtype=jnp.float32)
    (_, ours), g_ours = _value_and_grad(getattr(fj, name), s, y, weights=w)
    (_, theirs), g_theirs = _value_and_grad(getattr(optax.losses, name), s, y, weights=w)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(g_ours, g_theirs)


@pytest.mark.parametrize("name", ["hinge_loss", "perceptron_loss"])
def test_optax_binary_equals_optax(rng, name):
    f = jnp.asarray(grid_scores(rng, (8, 9), np.float32))  # any shape, kinks included
    t = jnp.asarray(rng.choice([-1.0, 1.0], (8, 9)), dtype=jnp.float32)
    w = jnp.asarray(rng.random((8, 9)), dtype=jnp.float32)
    (_, ours), g_ours = _value_and_grad(getattr(fj, name), f, t, weights=w)
    (_, theirs), g_theirs = _value_and_grad(getattr(optax.losses, name), f, t, weights=w)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(g_ours, g_theirs)


def test_crammer_singer_is_clamped_optax(rng):
    """kink="half", ties="split": optax's jax.grad; the loss is optax's, clamped at 0."""
    s = jnp.asarray(rng.standard_normal((50, 6)), dtype=jnp.float32)
    y = jnp.asarray(rng.integers(0, 6, 50), dtype=jnp.int32)

    def ours(s):
        return fj.crammer_singer(s, y, kink="half", ties="split", reduction="sum")

    def theirs(s):
        return jnp.maximum(optax.losses.multiclass_hinge_loss(s, y), 0).sum()

    np.testing.assert_allclose(jax.jit(ours)(s), theirs(s), rtol=1e-6)
    np.testing.assert_array_equal(jax.grad(ours)(s), jax.grad(theirs)(s))


def _numpy_cases(rng):
    s = rng.standard_normal((20, 6)).astype(np.float32)
    y = rng.integers(0, 6, 20).astype(np.int32)
    f = rng.standard_normal(20).astype(np.float32)
    t = rng.choice([-1.0, 1.0], 20).astype(np.float32)
    sw = rng.random(20).astype(np.float32)
    return [
        ("crammer_singer", (s, y), dict(p=2, class_weight=rng.random(6).astype(np.float32))),
        ("crammer_singer", (s, y), dict(reduction="none", ignore_index=3)),
        ("one_vs_all", (s, y), dict(reduction="per_class", sample_weight=sw)),
        ("binary_hinge", (f, t), dict(sample_weight=sw, reduction="none")),
        ("smooth_hinge", (f, t), dict(gamma=0.5)),
    ]


def test_losses_equal_the_numpy_functions_under_jit_and_grad(rng):
    for name, args, kwargs in _numpy_cases(rng):
        loss, grad = getattr(fh, name)(*args, **kwargs)
        arrays = {k: jnp.asarray(v) for k, v in kwargs.items() if isinstance(v, np.ndarray)}
        options = {k: v for k, v in kwargs.items() if k not in arrays}
        rest = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args[1:]]
        upstream = jnp.asarray(rng.random(np.shape(loss)), dtype=jnp.float32)

        def objective(s, arrays, rest=rest, name=name, options=options, upstream=upstream):
            value = getattr(fj, name)(s, *rest, **arrays, **options)
            return jnp.sum(value * upstream), value

        (_, value), g = jax.jit(jax.value_and_grad(objective, has_aux=True))(
            jnp.asarray(args[0]), arrays
        )
        np.testing.assert_array_equal(value, loss, err_msg=name)
        u = np.asarray(upstream)
        u = u[None, :] if kwargs.get("reduction") == "per_class" else (
            u.reshape(u.shape + (1,) * (grad.ndim - u.ndim)))  # fmt: skip
        np.testing.assert_array_equal(g, grad * u, err_msg=name)


def test_vmap_runs_one_callback_per_element(rng):
    s = jnp.asarray(rng.standard_normal((3, 10, 4)), dtype=jnp.float32)
    y = jnp.asarray(rng.integers(0, 4, 10), dtype=jnp.int32)
    batched = jax.vmap(lambda s: fj.crammer_singer(s, y))(s)
    expected = [fh.crammer_singer(np.asarray(x), np.asarray(y), return_grad=False) for x in s]
    np.testing.assert_array_equal(batched, expected)


def test_errors_name_the_argument(rng):
    s = jnp.zeros((3, 4))
    y = jnp.zeros(3, dtype=jnp.int32)
    with pytest.raises(TypeError, match="unexpected or repeated argument 'weight'"):
        fj.crammer_singer(s, y, weight=jnp.ones(4))
    with pytest.raises(TypeError, match="options must be scalars"):
        fj.crammer_singer(s, y, margin=[1.0])
    with pytest.raises(ValueError, match="loss must be one of"):
        fj.call("nope", s, y)


def test_float64_with_x64_enabled():
    """float64 end to end (x64 is process-wide, so in a fresh interpreter)."""
    code = textwrap.dedent(
        """
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp, numpy as np, optax, fasthinge as fh, fasthinge.jax as fj
        rng = np.random.default_rng(3)
        s, y = rng.standard_normal((30, 5)), rng.integers(0, 5, 30)
        value, g = jax.jit(jax.value_and_grad(fj.weston_watkins))(jnp.asarray(s), jnp.asarray(y))
        loss, grad = fh.weston_watkins(s, y)
        assert value.dtype == jnp.float64 and float(value) == float(loss)
        np.testing.assert_array_equal(g, grad)
        ours = jax.grad(lambda s: fj.multiclass_hinge_loss(s, y).sum())(jnp.asarray(s))
        theirs = jax.grad(lambda s: optax.losses.multiclass_hinge_loss(s, y).sum())(jnp.asarray(s))
        assert ours.dtype == jnp.float64
        np.testing.assert_array_equal(ours, theirs)
        print("ok")
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
