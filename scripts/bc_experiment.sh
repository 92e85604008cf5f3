#!/usr/bin/env bash
# Behaviour-cloning baseline for the 8 skills (the starting point DiWA fine-tunes): collect expert
# demonstrations, train one state-conditioned diffusion policy per skill, and evaluate all of them
# on 100 paired episodes. Usage (after `source scripts/env.sh`): scripts/bc_experiment.sh OUT_DIR [EPOCHS]
# The LED skills are learnt from 10 demonstrations instead of 50: with 50 the policy is already
# near-perfect and fine-tuning would have nothing to improve (DiWA starts from ~60 % on average).
set -euo pipefail
OUT="${1:?usage: bc_experiment.sh OUT_DIR [EPOCHS]}"
EPOCHS="${2:-200}"
SKILLS=(open_drawer close_drawer move_slider_left move_slider_right turn_on_lightbulb turn_off_lightbulb turn_on_led turn_off_led)
declare -A DEMOS=([turn_on_led]=10 [turn_off_led]=10)
mkdir -p "$OUT"
for i in "${!SKILLS[@]}"; do
  skill="${SKILLS[$i]}"
  demos="${DEMOS[$skill]:-50}"
  [ -d "$OUT/demos/$skill" ] || diwa data collect-demos --skill "$skill" --episodes 50 --seed $((1000 + i)) --out "$OUT/demos/$skill" --quiet
  started=$(date +%s%N)
  diwa train-policy --skill "$skill" --demos "$OUT/demos/$skill" --max-demos "$demos" --out "$OUT/policies/$skill" \
    --epochs "$EPOCHS" --seed 0 --no-progress
  echo "{\"skill\": \"$skill\", \"demos\": $demos, \"train_ms\": $(( ($(date +%s%N) - started) / 1000000 ))}" >> "$OUT/train_times.jsonl"
done
diwa eval --skills all --policy "$OUT/policies" --episodes 100 --seed 0 --out "$OUT/eval" --json --quiet
