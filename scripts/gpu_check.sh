#!/usr/bin/env bash
# GPU check: the real-GPU tests, the solver's GPU benchmark and the RL throughput (env alone and PPO
# end to end, issue 16), results as one JSON file, written even when a part fails or times out.
#
# Usage (from anywhere; nothing is fetched from the internet):
#   scripts/gpu_check.sh                 # writes $OUT/gpu_check.json, or ./gpu_check.json
# Environment knobs: OUT (result folder), GPU_CHECK_BATCHES (default "1 1024 4096 16384"),
#   GPU_CHECK_DECISIONS (timed 5 s decisions per row, default 4), GPU_CHECK_CPU_BUDGET (s, 10),
#   GPU_CHECK_TEST_TIMEOUT (s, 140), GPU_CHECK_BENCH_TIMEOUT (s, 110), GPU_CHECK_RL_TIMEOUT (s, 200),
#   GPU_CHECK_LAPTOP_PPO (env-steps/s of the CPU preset on the 2-core laptop, for the 40x ratio),
#   GPU_RL_ENV_SIZES ("16384"), GPU_RL_PPO_SIZES ("4096 16384 1024"): see scripts/gpu_rl_check.py.
#   GPU_CHECK_BENCH_TIMEOUT=0 skips the solver benchmark. GPU_CHECK_TRAIN_TIMEOUT (s, default 0: off)
#   adds the learning-quality run of scripts/gpu_train_check.py (the GPU preset trained on the device,
#   PPO steps sized from the RL part's rate and GPU_TRAIN_PPO_S) into $OUT/train/.
# Python: the repository's .venv if present, else python3 (with the project installed, or run from
# the checkout: the repository root is put on PYTHONPATH). Needs numpy, numba, numba-cuda, pydantic,
# pyyaml, pytest and an NVIDIA driver + CUDA toolkit (NVVM) that numba-cuda can find.
# Time budget: tests <= 140 s, benchmark <= 110 s, RL <= 200 s (under 8 minutes in all, with start-up).
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
DEST_DIR="${OUT:-.}"
mkdir -p "$DEST_DIR"
DEST="$DEST_DIR/gpu_check.json"
WORK="$(mktemp -d)"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export GPU_CHECK_WORK="$WORK" GPU_CHECK_DEST="$DEST"
START=$(date +%s)

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$WORK/smi.txt" 2>&1
"$PY" - > "$WORK/env.json" 2> "$WORK/env.err" <<'EOF'
import json, platform
out = {"python": platform.python_version()}
try:
    import numba, numpy
    from numba import cuda
    out.update(numba=numba.__version__, numpy=numpy.__version__, cuda_available=bool(cuda.is_available()))
    if out["cuda_available"]:
        dev = cuda.get_current_device()
        out["device"] = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
        out["compute_capability"] = list(dev.compute_capability)
except Exception as exc:  # report, do not stop: the JSON says what is missing
    out["error"] = f"{type(exc).__name__}: {exc}"
try:  # the RL part: PPO's policy runs on cuda only with a CUDA build of torch
    import stable_baselines3, torch
    out.update(torch=torch.__version__, torch_cuda=bool(torch.cuda.is_available()), sb3=stable_baselines3.__version__)
except Exception as exc:
    out["rl_error"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
EOF

TEST_TIMEOUT="${GPU_CHECK_TEST_TIMEOUT:-140}"; BENCH_TIMEOUT="${GPU_CHECK_BENCH_TIMEOUT:-110}"
RL_TIMEOUT="${GPU_CHECK_RL_TIMEOUT:-200}"
echo "[gpu_check] gpu tests (<= $TEST_TIMEOUT s)" >&2
timeout "$TEST_TIMEOUT" "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/solver/test_cuda_sim.py \
  tests/rl/test_training_gpu.py --junitxml="$WORK/tests.xml" > "$WORK/tests.log" 2>&1
echo $? > "$WORK/tests.rc"

echo "[gpu_check] benchmark (<= $BENCH_TIMEOUT s)" >&2
if [ "$BENCH_TIMEOUT" -gt 0 ]; then timeout "$BENCH_TIMEOUT" "$PY" - 2> "$WORK/bench.err" <<'EOF'
import json, os, sys
from pathlib import Path
from solver.bench.gpu import bench_cpu, bench_gpu, speedups
from solver.network.compile import build_network
from solver.scenario.loader import load_scenario

work = Path(os.environ["GPU_CHECK_WORK"])
batches = [int(b) for b in os.environ.get("GPU_CHECK_BATCHES", "1 1024 4096 16384").split()]
decisions = int(os.environ.get("GPU_CHECK_DECISIONS", "4"))
budget = float(os.environ.get("GPU_CHECK_CPU_BUDGET", "10"))
sc = load_scenario("scenarios/intersection_4arm.yml")
net, interval = build_network(sc), float(sc.decision_interval)
rows = []

def save(line=""):
    print(f"[gpu_check] {line}", file=sys.stderr, flush=True)
    (work / "bench.json").write_text(json.dumps({"rows": rows, "summary": speedups(rows) if rows else {}}))

for threads in dict.fromkeys((os.cpu_count() or 1, 2)):
    rows += bench_cpu(net, batches, decisions, interval, budget, sc.name, threads, save)
    save("cpu done")
for dtype in ("float32", "float64"):
    for batch in batches:
        rows += bench_gpu(net, [batch], [dtype], decisions, interval, sc.name)
        save(f"gpu {dtype} batch {batch}: {rows[-1]['decision_steps_per_s']:.0f} decisions/s")
EOF
echo $? > "$WORK/bench.rc"
else echo -1 > "$WORK/bench.rc"; fi  # skipped

echo "[gpu_check] RL: agreement, env alone, PPO end to end (<= $RL_TIMEOUT s)" >&2
GPU_RL_BUDGET=$(( RL_TIMEOUT - 45 )) timeout "$RL_TIMEOUT" "$PY" -m scripts.gpu_rl_check "$WORK/rl.json" \
  2> "$WORK/rl.err"
echo $? > "$WORK/rl.rc"

TRAIN_TIMEOUT="${GPU_CHECK_TRAIN_TIMEOUT:-0}"
if [ "$TRAIN_TIMEOUT" -gt 0 ]; then
  echo "[gpu_check] GPU preset trained on the device (<= $TRAIN_TIMEOUT s)" >&2
  mkdir -p "$DEST_DIR/train"
  GPU_TRAIN_WORK="$WORK/train" timeout "$TRAIN_TIMEOUT" "$PY" -m scripts.gpu_train_check "$DEST_DIR/train" \
    "$WORK/rl.json" 2> "$DEST_DIR/train/train.log"
  echo $? > "$WORK/train.rc"
  # stopped by the timeout: keep the policy validated best so far
  [ -f "$DEST_DIR/train/model.zip" ] || cp "$WORK/train/best_model.zip" "$DEST_DIR/train/model.zip" 2>/dev/null
fi

ELAPSED=$(( $(date +%s) - START )) "$PY" - <<'EOF'
import json, os
from pathlib import Path
work = Path(os.environ["GPU_CHECK_WORK"])
def text(name, tail=6000):
    p = work / name
    return p.read_text(errors="replace")[-tail:] if p.exists() else ""
def load(name):
    try:
        return json.loads(text(name, 10**7))
    except ValueError:
        return None
def load_path(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
bench = load("bench.json") or {"rows": [], "summary": {}}
s = bench["summary"]
f32 = s.get("gpu_float32_decisions_per_s")
rl = load("rl.json") or {}
gpu_ppo = [r for r in rl.get("ppo", []) if r.get("device") == "gpu"]
best = max(gpu_ppo, key=lambda r: r["env_steps_per_s"], default=None)
cpu_ppo = next((r["env_steps_per_s"] for r in rl.get("ppo", []) if r.get("device") == "cpu"), None)
laptop = float(os.environ["GPU_CHECK_LAPTOP_PPO"]) if os.environ.get("GPU_CHECK_LAPTOP_PPO") else None
env16k = next((r["env_steps_per_s"] for r in rl.get("env", []) if r["n_envs"] >= 16384), None)
result = {
    "nvidia_smi": text("smi.txt").strip(), "environment": load("env.json"), "env_stderr": text("env.err", 2000),
    "tests": {"rc": int(text("tests.rc") or -1), "log_tail": text("tests.log")},
    "bench": {"rc": int(text("bench.rc") or -1), "rows": bench["rows"], "summary": s, "stderr_tail": text("bench.err")},
    "acceptance": {
        "float32_decisions_per_s_at_batch_4096_plus": f32 if s.get("gpu_float32_batch", 0) >= 4096 else None,
        "meets_100k": bool(f32 and s.get("gpu_float32_batch", 0) >= 4096 and f32 >= 1e5),
        "speedup_vs_2core_cpu": s.get("gpu_float32_speedup_vs_2core_cpu"),
        "meets_20x_vs_2core_cpu": bool((s.get("gpu_float32_speedup_vs_2core_cpu") or 0) >= 20),
        "ppo_gpu_best_env_steps_per_s": best and best["env_steps_per_s"],
        "ppo_gpu_best_n_envs": best and best["n_envs"],
        "ppo_meets_50k": bool(best and best["env_steps_per_s"] >= 5e4),
        "ppo_cpu_preset_this_machine_env_steps_per_s": cpu_ppo,
        "ppo_cpu_preset_laptop_env_steps_per_s": laptop,
        "ppo_speedup_vs_laptop_cpu_preset": best and laptop and best["env_steps_per_s"] / laptop,
        "ppo_meets_40x_vs_laptop": bool(best and laptop and best["env_steps_per_s"] >= 40 * laptop),
        "env_alone_env_steps_per_s_at_16384": env16k,
        "env_alone_meets_400k": bool(env16k and env16k >= 4e5),
    },
    "rl": {"rc": int(text("rl.rc") or -1), **rl, "stderr_tail": text("rl.err")},
    "train": {"rc": int(text("train.rc") or -1) if (work / "train.rc").exists() else None,
              "summary": load_path(Path(os.environ["GPU_CHECK_DEST"]).parent / "train" / "train_summary.json")},
    "elapsed_s": int(os.environ.get("ELAPSED", "0")),
}
Path(os.environ["GPU_CHECK_DEST"]).write_text(json.dumps(result, indent=2))
print(json.dumps({"tests_rc": result["tests"]["rc"], "bench_rc": result["bench"]["rc"], "rl_rc": result["rl"]["rc"],
                  "train_rc": result["train"]["rc"],
                  **result["acceptance"]}, indent=2))
EOF
echo "[gpu_check] wrote $DEST" >&2
rm -rf "$WORK"
