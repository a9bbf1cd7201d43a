#!/usr/bin/env bash
# One call on a lent GPU machine: the check script of issue #5 and the kernel tests, on
# real hardware, each stage under its own time limit, every log written into $OUT.
#
#   bash scripts/gpu_session.sh            # from the repository root, on the GPU machine
#
# The device machine's python3 (3.12) has numba, numba-cuda, PyTorch (CUDA) and CuPy, but
# a numpy that numba-cuda cannot use: carry a numpy 2.4.x wheel in .whl/ (see
# docs/gpu.md, "Running it on a lent GPU"); it is installed into /tmp/site first.
#
# Settings (environment): CHECK_ARGS (extra arguments of the check script, e.g.
# "--functions weston_watkins --dtypes float32"), CHECK_SECONDS (300), TEST_SECONDS (200:
# the first test run), TOTAL_SECONDS (560: the second test run only starts with more than
# a minute left of it), TEST_WORKERS (8). On an H200 the whole script took 3.5-4.5 minutes.
OUT=${OUT:-/tmp/fasthinge_gpu}
source scripts/gpu_env.sh
stage() { echo "== $1 ($(date +%T))" | tee -a "$OUT/stages.txt"; }

stage "machine and versions"
{ nvidia-smi; lscpu | grep -E "Model name|^CPU\(s\)"; python3 -c "import sys; print(sys.version)"
  python3 -m pip list 2>/dev/null | grep -iE "^(numpy|numba|numba-cuda|torch|cupy|ml.dtypes) "
} >"$OUT/machine.txt" 2>&1

stage "CPU references compiled in parallel (the check compares with the CPU path)"
functions="weston_watkins crammer_singer one_vs_all structured_hinge topk_hinge categorical_hinge
multilabel_margin binary_hinge perceptron smooth_hinge modified_huber hinge_embedding"
for name in $functions; do
    for dtype in float32 float64; do
        timeout 150 python3 -c "
import numpy as np, fasthinge as fh
from fasthinge.bench.gpu_check import make_inputs
args, _ = make_inputs('$name', 64, 10, '$dtype', np.random.default_rng(0))
for reduction in ('mean', 'none'):
    getattr(fh, '$name')(*args, reduction=reduction)
" >>"$OUT/warm.txt" 2>&1 || echo "warm-up of $name $dtype failed (exit $?)" >>"$OUT/warm.txt" &
    done
done
wait
# 24 processes compile into one cache at once: before fasthinge locked Numba's cache index
# (6cf17ba) one of them died there once (a TypingError); a failure is reported, and the
# check below compiles what it needs again
grep -q "failed (exit" "$OUT/warm.txt" && grep "failed (exit" "$OUT/warm.txt" | tee -a "$OUT/stages.txt"

stage "check script: parity with the CPU path and PyTorch, timings against a copy"
timeout "${CHECK_SECONDS:-300}" python3 -m fasthinge.bench.gpu_check ${CHECK_ARGS:-} 2>&1 | tee "$OUT/gpu_check.txt"

stage "kernel tests on the GPU (tests/gpu_sim, blocks of 32 threads, at most 2 blocks)"
# The CPU side of these tests runs JIT-free where numba-cuda still compiles kernels then
# (no CPU compilation in each worker); -W default: numba-cuda's performance warnings
# (tiny grids) are not test failures here.
jit_free=0
NUMBA_DISABLE_JIT=1 timeout 120 python3 -c "
import numpy as np, fasthinge as fh
from fasthinge._cuda._runtime import cuda
s = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
y = np.arange(8) % 4
got = [g.copy_to_host() for g in fh.weston_watkins(cuda.to_device(s), cuda.to_device(y))]
assert all(np.allclose(g, c) for g, c in zip(got, fh.weston_watkins(s, y)))
" >"$OUT/jit_free_probe.txt" 2>&1 && jit_free=1
echo "NUMBA_DISABLE_JIT=$jit_free for the tests" | tee -a "$OUT/stages.txt"
hardware_tests() {  # $1: log name, $2: seconds; the environment sets the block shape
    NUMBA_DISABLE_JIT=$jit_free FASTHINGE_GPU_HARDWARE_TESTS=1 timeout "$2" python3 -m pytest \
        tests/gpu_sim -o addopts="" -q -ra -W default -p no:cacheprovider -p no:benchmark \
        -n "${TEST_WORKERS:-8}" 2>&1 | tee "$OUT/$1" | tail -n 40
}
hardware_tests hardware_tests.txt "${TEST_SECONDS:-200}"

left=$(( ${TOTAL_SECONDS:-560} - SECONDS ))
if (( left > 60 )); then
    stage "kernel tests again with the default blocks (256 threads, at most 2048 blocks)"
    FASTHINGE_CUDA_THREADS=256 FASTHINGE_CUDA_MAX_BLOCKS=2048 \
        hardware_tests hardware_tests_256.txt "$left"
fi
stage "done"
