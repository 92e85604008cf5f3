#!/usr/bin/env bash
# latency.json for every released fine-tuned skill: its evaluation's 100 paired episodes replayed
# with 1 and 2 control periods of command delay, against the released BC policy.
#
#   docs/results/delay_finetune/release_latency.sh   (after `source scripts/env.sh`; repository root)
set -euo pipefail
for s in open_drawer close_drawer move_slider_left move_slider_right turn_on_lightbulb turn_off_lightbulb \
  turn_on_led turn_off_led; do
  diwa latency-check "released:state/$s" --base "released:state/bc/$s" --delays 1,2
done
