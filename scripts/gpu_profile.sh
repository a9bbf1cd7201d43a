#!/usr/bin/env bash
# One call on a lent GPU machine: Nsight Compute (ncu) reports of the kernels that
# scripts/gpu_profile.py launches (each twice), written into $OUT:
#
#   bash scripts/gpu_profile.sh            # from the repository root, on the GPU machine
#
# ncu reads the hardware counters on the Firecracker machines (not on gVisor ones, see the
# device tool's KINDS.md); --clock-control none leaves the card's clocks as they are. Carry
# the numpy wheel in .whl/ as for scripts/gpu_session.sh. PROFILE_SECONDS (default 230)
# bounds the profiled run.
OUT=${OUT:-/tmp/fasthinge_profile}
source scripts/gpu_env.sh
ncu=$(command -v ncu || compgen -G "/opt/nvidia/nsight-compute/*/ncu" | head -n 1)
echo "ncu: ${ncu:-not found}" | tee "$OUT/profile_log.txt"
"$ncu" --version >>"$OUT/profile_log.txt" 2>&1
timeout "${PROFILE_SECONDS:-230}" "$ncu" --clock-control none --target-processes all \
    -k "regex:weston_watkins|topk|binary" --set full -o "$OUT/profile" -f \
    python3 scripts/gpu_profile.py >>"$OUT/profile_log.txt" 2>&1
echo "ncu exit $?" >>"$OUT/profile_log.txt"
"$ncu" -i "$OUT/profile.ncu-rep" --page details --print-units base >"$OUT/ncu_details.txt" 2>&1
tail -n 20 "$OUT/profile_log.txt"
grep -E "^  [a-z_]|Duration|Memory Throughput|DRAM Throughput|Achieved Occupancy|Registers Per|Warp Cycles Per Issued|Issued Ipc|Theoretical Occupancy|Block Limit" \
    "$OUT/ncu_details.txt" | head -n 150
