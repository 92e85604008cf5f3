#!/usr/bin/env bash
# Ship the verdict's models with the state release and renew its verdicts with them: the guard fitted
# on set 41's play (the world model's own) and set 53's world model and reward classifiers as the
# judge (judge.sh makes all three), then `diwa verdict` on each released skill with the release's
# defaults (no --guard, no --judge-wm), then release.json's verdicts read again.
#
#   docs/results/release_verdict/update_release.sh RUNS    (after judge.sh; repository root)
set -euo pipefail
R="${1:?usage: update_release.sh RUNS_DIR}"
HERE="$(dirname "$0")"
SKILLS=(open_drawer close_drawer move_slider_left move_slider_right turn_on_lightbulb turn_off_lightbulb turn_on_led turn_off_led)
python - "$R" <<'PY'
import sys
from pathlib import Path

from diwa.released import add_verdict_models

runs = Path(sys.argv[1])
add_verdict_models("state", runs / "s41/verdict_guard", (runs / "s53/wm", runs / "s53/rewards"), {"judge": "53", "judge_play": "53"})
PY
mkdir -p "$HERE/verdicts"
for s in "${SKILLS[@]}"; do
  /usr/bin/time -f "$s verdict: %e s" diwa verdict --skill "$s" --run "released:state/$s" --wm released:state/world_model \
    --reward released:state/reward --episodes 500 --seed 41 --json | tail -1 > "$HERE/verdicts/$s.json"
done
python -c 'from diwa.released import refresh_measurements; refresh_measurements("state")'
