#!/usr/bin/env bash
# CI smoke run of the asv suite: every benchmark once on a reduced grid
# (FASTHINGE_ASV_QUICK=1, see benchmarks/common.py), with the current
# interpreter and the fasthinge installed in it. Exits non-zero if any
# benchmark fails; skipped ones (a peer library that is not installed) are fine.
set -euo pipefail
cd "$(dirname "$0")"

export FASTHINGE_ASV_QUICK="${FASTHINGE_ASV_QUICK:-1}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

asv machine --yes
# asv run exits with 2 when a benchmark fails; the status lines are checked too.
asv run --python=same --quick --launch-method=spawn --show-stderr "$@" 2>&1 | tee "$log"
if grep -E '^\[ *[0-9.]+%\].*failed *$' "$log" >/dev/null; then
    echo "smoke.sh: some benchmarks failed (see above)" >&2
    exit 1
fi
