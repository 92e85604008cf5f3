#!/usr/bin/env bash
# Ablation of near-miss play (issue 22): one seed set's pipeline exactly as scripts/seed_set.sh runs
# it, with every seed derived from S as there, except that the play has no near misses
# (--near-miss-prob 0 instead of 0.3). Only the skills named are run (default: the two drawer skills,
# move_slider_left and turn_on_led, those of the other remedy ablations); each keeps its index in the
# full skill list, so its demonstrations and BC policy are those of the seed set. compare.py then sets
# the fine-tuned policies against the set's plain runs with near-miss play.
#
#   docs/results/near_miss_play/run.sh OUT_DIR S [SKILL ...]   (after `source scripts/env.sh`; repo root)
#
# One process at a time (one core); resumable like seed_set.sh.
set -euo pipefail
O="${1:?usage: run.sh OUT_DIR S [SKILL ...]}"
S="${2:?usage: run.sh OUT_DIR S [SKILL ...]}"
shift 2
ALL=(open_drawer close_drawer move_slider_left move_slider_right turn_on_lightbulb turn_off_lightbulb turn_on_led turn_off_led)
CHOSEN=("$@")
[ ${#CHOSEN[@]} -gt 0 ] || CHOSEN=(open_drawer close_drawer move_slider_left turn_on_led)
declare -A DEMOS=([turn_on_led]=10 [turn_off_led]=10)
mkdir -p "$O/logs"
echo "play $S (no near misses) demos $((100 * S))+i bc $S wm $S reward $S finetune $S eval $((1000 + S))" > "$O/seeds.txt"
STAGE_LABEL="no-near-miss set $S"
# shellcheck source=scripts/stages.sh
source scripts/stages.sh

play() {
  rm -rf "$O/play"
  diwa data collect-play --frames 50000 --seed "$S" --near-miss-prob 0 \
    --free-motion-box -0.45 -0.45 0.30 0.40 0.05 0.66 --out "$O/play"
}

bc() {
  for i in "${!ALL[@]}"; do
    local s="${ALL[$i]}"
    [[ " ${CHOSEN[*]} " == *" $s "* ]] || continue
    [ -f "$O/bc/policies/$s/policy.json" ] && continue
    rm -rf "$O/bc/demos/$s"
    diwa data collect-demos --skill "$s" --episodes 50 --seed $((100 * S + i)) --out "$O/bc/demos/$s" --quiet
    diwa train-policy --skill "$s" --demos "$O/bc/demos/$s" --max-demos "${DEMOS[$s]:-50}" \
      --out "$O/bc/policies/$s" --epochs 200 --seed "$S" --threads 1 --no-progress
  done
}

world_model() {
  local resume=()
  [ -f "$O/wm/world_model.json" ] && resume=(--resume)
  diwa train-wm --data "$O/play" --out "$O/wm" --profile quick --steps 20000 --seed "$S" --threads 1 \
    --no-progress --json "${resume[@]}"
}

rewards() {
  for s in "${CHOSEN[@]}"; do
    [ -f "$O/rewards/reward_$s.json" ] && continue
    diwa train-reward --skill "$s" --wm "$O/wm" --data "$O/play" --out "$O/rewards" --seed "$S" --threads 1 --json
  done
}

finetune() {
  local skills="${CHOSEN[*]}"
  diwa finetune-skills --skills "${skills// /,}" --policies "$O/bc/policies" --wm "$O/wm" --reward "$O/rewards" \
    --out "$O/diwa_plain" --workers 1 --seed "$S" --eval-seed $((1000 + S)) --no-progress --json
}

started=$(date +%s)
stage play play
stage bc bc
stage world_model world_model
stage rewards rewards
stage finetune finetune
echo "[$STAGE_LABEL] all stages done in $(($(date +%s) - started)) s (this invocation)"
