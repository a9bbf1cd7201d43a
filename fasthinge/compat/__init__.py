"""Peer-compatible front ends: each peer's function names, signatures and values.

One module per peer: ``fasthinge.compat.torch``, ``.sklearn``, ``.torchmetrics``,
``.keras``, ``.optax``. None imports its peer: inputs are NumPy arrays (or
anything ``np.asarray`` accepts), results are NumPy values. Every function takes
an extra keyword ``return_grad=False``; ``True`` also returns the gradient that
the peer's autograd gives for the (summed, for unreduced outputs) value:
PyTorch autograd for ``torch`` and ``torchmetrics``, ``jax.grad`` for ``optax``
and ``keras`` (Keras on the JAX backend), and the active-slope subgradient for
``sklearn`` (which has no autograd).
"""
