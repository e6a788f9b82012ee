#!/usr/bin/env bash
# Side-by-side speed of the ARZ intersection and sumo-rl's single-intersection scenario.
#
# Usage: scripts/bench_vs_sumo_rl.sh [ROUNDS]      (default 3; needs PyPI for the first run)
# Makes .venv-sumo (sumo-rl 1.4.5, libsumo and eclipse-sumo 1.28.0; not project dependencies),
# then alternates the two programs ROUNDS times on this machine, so both see the same load, and
# prints the medians and the ratios (ARZ one core / sumo-rl, ARZ batch on every core / sumo-rl).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
ROUNDS="${1:-3}"
PY="${ARZ_PYTHON:-.venv/bin/python}"
if [ ! -x .venv-sumo/bin/python ]; then
  python3 -m venv .venv-sumo
  .venv-sumo/bin/pip install -q "sumo-rl==1.4.5" "libsumo==1.28.0" "eclipse-sumo==1.28.0"
fi
LOG="$(mktemp)"
for i in $(seq "$ROUNDS"); do
  echo "round $i/$ROUNDS" >&2
  .venv-sumo/bin/python scripts/sumo_rl_rate.py 20000 "$i" | tee -a "$LOG"
  "$PY" scripts/arz_intersection_rate.py 3600 "$i" | tee -a "$LOG"
done
"$PY" - "$LOG" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
sumo = statistics.median(r["sim_s_per_wall_s"] for r in rows if r["case"].startswith("sumo"))
out = {"rounds": len(rows) // 3, "sumo_rl_sim_s_per_wall_s": sumo}
for key, pred in (("arz_one_core", lambda r: r.get("threads") == 1),
                  ("arz_batch_all_cores", lambda r: (r.get("threads") or 1) > 1)):
    rate = statistics.median(r["sim_s_per_wall_s"] for r in rows if r["case"].startswith("arz") and pred(r))
    out[f"{key}_sim_s_per_wall_s"] = rate
    out[f"{key}_vs_sumo_rl"] = rate / sumo
print(json.dumps(out, indent=2))
PY
rm -f "$LOG"
