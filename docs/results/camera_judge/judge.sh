#!/usr/bin/env bash
# The verdict on each fine-tuned camera skill of RUN, with JUDGE's camera world model and reward
# classifiers as the independent model: the policies read their own model's filter of what JUDGE
# imagines. On copies of the runs (the runs stay as fine-tuning left them); the guard is RUN's,
# fitted on its play when RUN/verdict_guard holds none. One JSON per skill into NAME/.
#
#   docs/results/camera_judge/judge.sh RUN JUDGE NAME    (after `source scripts/env.sh`; repository root)
set -euo pipefail
R="${1:?usage: judge.sh RUN JUDGE NAME}"
J="${2:?usage: judge.sh RUN JUDGE NAME}"
NAME="${3:?usage: judge.sh RUN JUDGE NAME}"
HERE="$(dirname "$0")"
mkdir -p "$HERE/$NAME" "$R/judge_check_$NAME"
for s in open_drawer close_drawer move_slider_left move_slider_right turn_on_lightbulb turn_off_lightbulb turn_on_led turn_off_led; do
  [ -f "$HERE/$NAME/$s.json" ] && continue
  rm -rf "$R/judge_check_$NAME/$s"
  cp -r "$R/diwa_plain/$s" "$R/judge_check_$NAME/$s"
  start=$(date +%s)
  diwa verdict --skill "$s" --run "$R/judge_check_$NAME/$s" --wm "$R/wm" --reward "$R/rewards" --guard "$R/verdict_guard" \
    --judge-wm "$J/wm" --judge-reward "$J/rewards" --episodes 500 --seed 41 --json | tail -1 > "$HERE/$NAME/$s.tmp"
  mv "$HERE/$NAME/$s.tmp" "$HERE/$NAME/$s.json"
  echo "$s: $(($(date +%s) - start)) s"
done
