#!/usr/bin/env bash
# One prepared run on a lent GPU machine, from the project's root there:
#   bash experiments/gpu.sh   (copied from ../shared/gpu/run.sh: ../shared does not travel to that machine)
# Installs the project over the machine's own JAX (no registry is reachable there; a folder
# `wheels/` of extra wheels, if carried, is used), says what is missing, then runs the GPU bench
# and writes its records under $OUT. Budget: keep the whole call under about 8 minutes.
set -uo pipefail
: "${OUT:?run this through the device tool, which sets OUT}"; mkdir -p "$OUT"
python -V; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python - <<'PY'
import importlib
for m in ("jax", "optax", "numpy", "rich", "matplotlib", "torch", "optimistix", "pyarrow"):
    try:
        mod = importlib.import_module(m); print(f"{m:12s} {getattr(mod, '__version__', '?')}")
    except Exception as e:
        print(f"{m:12s} MISSING ({type(e).__name__})")
import jax; print("devices:", jax.devices())
PY
if [ -d wheels ]; then python -m pip install -q --no-index --find-links wheels wheels/*.whl 2>&1 | tail -n 3; fi
python -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | tail -n 3 || python -m pip install -q --no-deps -e . 2>&1 | tail -n 3
# Issue 13, item 4 (and issue 12, item 5): the full GPU bench (its bars: N=1e8, d=1 at most
# 1.15x the floor; N=1e7, d=64 under 1.8 ms a step; N=200 under 1.5 us a step; the cost,
# memory, sweep and quadratic bars), then the scaling curve on the GPU, in rounds.
timeout 300 steepest bench --device gpu --out "$OUT/benchmarks-gpu.json" 2>&1 | tee "$OUT/bench-gpu.txt"
echo "bench exit ${PIPESTATUS[0]}"
plot=(); python -c "import matplotlib" 2>/dev/null && plot=(--plot "$OUT/scaling-gpu.png")
timeout 150 steepest bench --device gpu --size scaling --out "$OUT/benchmarks-gpu-scaling.json" \
    "${plot[@]}" 2>&1 | tee "$OUT/bench-gpu-scaling.txt"
echo "scaling exit ${PIPESTATUS[0]}; records in $OUT"
