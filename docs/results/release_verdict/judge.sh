#!/usr/bin/env bash
# The release's verdict models, made again where the release's source runs are gone: set 41's play
# (the world model's own, hash-checked by the guard fit), the guard fitted on it, and set 53's world
# model and reward classifiers as the independent judge (other play, other seed, as the released
# verdicts were judged: ../verdict_cross_model). Commands as scripts/seed_set.sh's stages.
#
#   docs/results/release_verdict/judge.sh RUNS     (after `source scripts/env.sh`; repository root)
set -euo pipefail
R="${1:?usage: judge.sh RUNS_DIR}"
SKILLS=(open_drawer close_drawer move_slider_left move_slider_right turn_on_lightbulb turn_off_lightbulb turn_on_led turn_off_led)
for s in 41 53; do
  [ -f "$R/s$s/play/meta.json" ] || diwa data collect-play --frames 50000 --seed "$s" --near-miss-prob 0.3 \
    --near-miss-m 0.03 0.09 --free-motion-box -0.45 -0.45 0.30 0.40 0.05 0.66 --out "$R/s$s/play" --quiet
done
resume=()
[ -f "$R/s53/wm/world_model.json" ] && resume=(--resume)
diwa train-wm --data "$R/s53/play" --out "$R/s53/wm" --profile quick --steps 20000 --seed 53 --threads 1 \
  --no-progress --json "${resume[@]}"
for s in "${SKILLS[@]}"; do
  [ -f "$R/s53/rewards/reward_$s.json" ] || diwa train-reward --skill "$s" --wm "$R/s53/wm" --data "$R/s53/play" \
    --out "$R/s53/rewards" --seed 53 --threads 1 --json
done
