#!/usr/bin/env bash
# Ablation of short imagined episodes (issue 22): fine-tune skills of one seed set with imagined
# episodes of 48 steps instead of 72 (finetune_quick_short48.yaml; the simulator evaluation keeps 72),
# with every other input and seed of the set's plain 20-iteration runs, into SET_DIR/diwa_short48/.
# ../seed_sets/ablation.py then compares them with SET_DIR/diwa_plain/ on the same paired episodes.
#
#   docs/results/short_imagination/run.sh SET_DIR SEED [SKILL ...]   (after `source scripts/env.sh`; repo root)
#
# SET_DIR is a scripts/seed_set.sh output (wm, bc, rewards, diwa_plain); SEED its fine-tuning seed; the
# evaluation seed is 1000 + SEED as there, or EVAL_SEED (set 31: SEED 4, EVAL_SEED 8080). Default
# skills: all 8. Resumable.
set -euo pipefail
O="${1:?usage: run.sh SET_DIR SEED [SKILL ...]}"
S="${2:?usage: run.sh SET_DIR SEED [SKILL ...]}"
shift 2
SKILLS=("$@")
[ ${#SKILLS[@]} -gt 0 ] || SKILLS=(open_drawer close_drawer move_slider_left move_slider_right turn_on_lightbulb \
  turn_off_lightbulb turn_on_led turn_off_led)
EVAL="${EVAL_SEED:-$((1000 + S))}"
PROFILE=docs/results/short_imagination/finetune_quick_short48.yaml
for s in "${SKILLS[@]}"; do
  out="$O/diwa_short48/$s"
  [ -f "$out/evaluation.json" ] && continue
  resume=()
  [ -f "$out/finetune.json" ] && resume=(--resume)
  diwa finetune --skill "$s" --wm "$O/wm" --policy "$O/bc/policies/$s" --reward "$O/rewards" --out "$out" \
    --profile "$PROFILE" --seed "$S" --eval-seed "$EVAL" --no-progress --json "${resume[@]}" \
    > "$O/diwa_short48_$s.log" 2>&1
done
