#!/usr/bin/env bash
# The model-free DPPO baseline on the camera route: the same PPO as DiWA, on simulator episodes
# rendered from both cameras (64x64), from the camera BC policies of a scripts/camera_set.sh run,
# one skill per core. Counts the simulator steps it needs to reach DiWA's fine-tuned success, to
# compare with the 50k play frames the world model learnt from (diwa report --online).
#
#   docs/results/camera_route/dppo.sh RUN_DIR S SKILL_A SKILL_B [ITERATIONS]   (after source scripts/env.sh)
set -euo pipefail
O="${1:?usage: dppo.sh RUN_DIR S SKILL_A SKILL_B [ITERATIONS]}"
S="${2:?}"
A="${3:?}"
B="${4:?}"
ITERATIONS="${5:-20}"
online() {
  local skill="$1" resume=()
  [ -f "$O/dppo/$skill/finetune.json" ] && resume=(--resume)
  diwa finetune-online --skill "$skill" --policy "$O/bc/policies/$skill" --wm "$O/wm" --out "$O/dppo/$skill" \
    --iterations "$ITERATIONS" --eval-every 4 --eval-episodes 100 --eval-seed $((1000 + S)) --seed "$S" \
    --threads 1 --no-progress --json "${resume[@]}" > "$O/logs/dppo_$skill.log" 2>&1
}
online "$A" &
pid=$!
online "$B"
wait "$pid"
