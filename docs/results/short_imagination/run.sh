#!/usr/bin/env bash
# Ablation of short imagined episodes (issue 22): fine-tune four skills of seed sets 41 and 53 with
# imagined episodes of 48 steps instead of 72, with every other input and seed of the plain 20-iteration
# runs (../finetune_budget/), then compare with them on the same 100 paired simulator episodes.
#
#   docs/results/short_imagination/run.sh RUNS_DIR     (after `source scripts/env.sh`; repository root)
#
# RUNS_DIR holds s41_it20/ and s53_it20/ (wm, bc, rewards and diwa_plain/ of each set). Resumable.
set -euo pipefail
R="${1:?usage: run.sh RUNS_DIR}"
HERE=docs/results/short_imagination
for S in 41 53; do
  O="$R/s${S}_it20"
  for s in open_drawer close_drawer move_slider_left turn_on_led; do
    out="$O/diwa_short48/$s"
    [ -f "$out/evaluation.json" ] && continue
    resume=()
    [ -f "$out/finetune.json" ] && resume=(--resume)
    diwa finetune --skill "$s" --wm "$O/wm" --policy "$O/bc/policies/$s" --reward "$O/rewards" --out "$out" \
      --profile "$HERE/finetune_quick_short48.yaml" --seed "$S" --eval-seed $((1000 + S)) --no-progress --json \
      "${resume[@]}" > "$R/short48_${S}_$s.log" 2>&1
  done
done
python docs/results/seed_sets/ablation.py short48 "$R/s41_it20" "$R/s53_it20" > "$HERE/ablation_short48.md"
