"""Loss + gradient, loss only, gradient into ``out=`` and peak memory of every function.

``setup`` calls the function (both passes) once, so compilation, or loading
Numba's cache, is never timed; ``bench_compile`` times that separately. These
calls take the fast paths of default-keyword calls (``fasthinge._small``);
``time_general_path`` adds a keyword at its default, so the full validation runs.
The ``out=`` buffer is ``fasthinge.empty_gradient``'s, as the docs advise: at a
cache line's start, where the bands stream or stage the gradient past the cache
(``np.empty_like`` starts 16 bytes into a line and keeps plain stores).
"""

import fasthinge

from .common import CASES, DTYPES, THREADS, load_case


class Losses:
    params = (CASES, list(DTYPES), list(THREADS))
    param_names = ("case", "dtype", "threads")
    timeout = 300

    def setup(self, case, dtype, threads):
        _, self.func, self.scores, self.labels = load_case(case, dtype, threads)
        self.out = fasthinge.empty_gradient(self.scores)
        self.func(self.scores, self.labels, out=self.out, n_threads=threads)
        self.func(self.scores, self.labels, return_grad=False, n_threads=threads)

    def time_loss_grad(self, case, dtype, threads):
        self.func(self.scores, self.labels, n_threads=threads)

    def time_loss_only(self, case, dtype, threads):
        self.func(self.scores, self.labels, return_grad=False, n_threads=threads)

    def time_into_out(self, case, dtype, threads):
        self.func(self.scores, self.labels, out=self.out, n_threads=threads)

    def time_general_path(self, case, dtype, threads):
        self.func(self.scores, self.labels, out=self.out, n_threads=threads, sample_weight=None)

    def peakmem_loss_grad(self, case, dtype, threads):
        self.func(self.scores, self.labels, n_threads=threads)
