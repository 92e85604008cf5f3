#!/usr/bin/env bash
# All 8 released BC policies fine-tuned in the released world model with DELAY control periods of
# command delay (rollouts and the paired evaluation), with the release's seeds, one skill at a time;
# then each run's evaluation replayed at the other delays of 0, 1 and 2 (latency.json).
#
#   docs/results/delay_finetune/all_skills.sh OUT_DIR DELAY   (after `source scripts/env.sh`; repository root)
set -euo pipefail
O="${1:?usage: all_skills.sh OUT_DIR DELAY}"
D="${2:?usage: all_skills.sh OUT_DIR DELAY}"
diwa finetune-skills --skills all --policies released:state/bc --wm released:state/world_model \
  --reward released:state/reward --out "$O" --workers 1 --seed 41 --eval-seed 1041 --action-delay "$D" \
  --no-progress --json
others=$(for d in 0 1 2; do [ "$d" != "$D" ] && printf '%s,' "$d"; done)
for s in open_drawer close_drawer move_slider_left move_slider_right turn_on_lightbulb turn_off_lightbulb \
  turn_on_led turn_off_led; do
  [ -f "$O/$s/latency.json" ] || diwa latency-check "$O/$s" --base "released:state/bc/$s" --delays "${others%,}" --json
done
