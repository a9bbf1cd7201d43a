# Sourced by the scripts that run on a lent GPU machine (gpu_session.sh, gpu_profile.sh):
# $OUT made, Python unbuffered and importing this checkout, and the wheels carried in
# .whl/ (the numpy 2.4.x that numba-cuda needs: docs/gpu.md) installed into /tmp/site.
set -u
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD"
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="/tmp/site:$PWD"
fi
