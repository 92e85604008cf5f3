#!/usr/bin/env bash
# Reproduces this folder (about 80 min on 2 cores): 100k frames of wide play, the quick world model,
# its 8 reward classifiers, BC from 200 demonstrations per skill, and the fidelity of the expert and
# of BC200. Usage (after `source scripts/env.sh`, from the repository root): reproduce.sh OUT_DIR
set -euo pipefail
O="${1:?usage: reproduce.sh OUT_DIR}"
SKILLS=(open_drawer close_drawer move_slider_left move_slider_right turn_on_lightbulb turn_off_lightbulb turn_on_led turn_off_led)
mkdir -p "$O"
[ -d "$O/play100k" ] || diwa data collect-play --frames 100000 --seed 2 --near-miss-prob 0.3 --near-miss-m 0.03 0.09 \
  --free-motion-box -0.45 -0.45 0.30 0.40 0.05 0.66 --out "$O/play100k"
bc200() {
  for i in "${!SKILLS[@]}"; do
    s="${SKILLS[$i]}"
    diwa data collect-demos --skill "$s" --episodes 200 --seed $((2000 + i)) --out "$O/bc200/demos/$s" --quiet
    diwa train-policy --skill "$s" --demos "$O/bc200/demos/$s" --max-demos 200 --out "$O/bc200/policies/$s" \
      --epochs 200 --seed 0 --no-progress
  done
  diwa eval --skills all --policy "$O/bc200/policies" --episodes 100 --seed 0 --out "$O/bc200/eval" --json --quiet
}
bc200 > "$O/bc200.log" 2>&1 &  # one core for BC, the other for the world model
bc_pid=$!
diwa train-wm --data "$O/play100k" --out "$O/wm100" --profile quick --steps 20000 --seed 0 --threads 1 --no-progress
wait "$bc_pid"
rewards() { for s in "$@"; do diwa train-reward --skill "$s" --wm "$O/wm100" --data "$O/play100k" --out "$O/rewards" --seed 0 --json; done; }
rewards "${SKILLS[@]:0:4}" > "$O/rewards_a.log" 2>&1 &
rewards_pid=$!
rewards "${SKILLS[@]:4:4}" > "$O/rewards_b.log" 2>&1
wait "$rewards_pid"  # a bare `wait` would hide the background job's failure
diwa eval-fidelity --wm "$O/wm100" --reward "$O/rewards" --agent scripted --skills all --episodes 50 --samples 5 --seed 0 \
  --out "$O/fidelity_expert" --json > "$O/fidelity_expert.log" 2>&1 &
expert_pid=$!
diwa eval-fidelity --wm "$O/wm100" --reward "$O/rewards" --agent "$O/bc200/policies" --skills all --episodes 50 \
  --samples 5 --seed 0 --replay-noise 0.05 0.1 0.25 0.5 --out "$O/fidelity_bc200"
wait "$expert_pid"
diwa eval-wm --wm "$O/wm100" --data "$O/play100k" --json > "$O/eval_wm.log"
