#!/usr/bin/env bash
# The pre-deployment verdict on each fine-tuned camera skill of RUN (guard fitted on RUN's play, no
# judge: a latent-conditioned policy cannot be imagined in another world model), on copies so that
# the run stays as fine-tuning left it; one JSON per skill into verdicts/ beside this script.
#
#   docs/results/camera_weighting/verdicts.sh RUN    (after `source scripts/env.sh`; repository root)
set -euo pipefail
R="${1:?usage: verdicts.sh RUN}"
HERE="$(dirname "$0")"
mkdir -p "$HERE/verdicts" "$R/verdict_check"
for s in open_drawer close_drawer move_slider_left move_slider_right turn_on_lightbulb turn_off_lightbulb turn_on_led turn_off_led; do
  rm -rf "$R/verdict_check/$s"
  cp -r "$R/diwa_plain/$s" "$R/verdict_check/$s"
  diwa verdict --skill "$s" --run "$R/verdict_check/$s" --wm "$R/wm" --reward "$R/rewards" --guard "$R/verdict_guard" \
    --episodes 500 --seed 41 --json | tail -1 > "$HERE/verdicts/$s.json"
done
