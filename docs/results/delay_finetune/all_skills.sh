#!/usr/bin/env bash
# All 8 released BC policies fine-tuned in the released world model with DELAY control periods of
# command delay (rollouts and the paired evaluation), with the release's seeds, one skill at a time.
#
#   docs/results/delay_finetune/all_skills.sh OUT_DIR DELAY   (after `source scripts/env.sh`; repository root)
set -euo pipefail
O="${1:?usage: all_skills.sh OUT_DIR DELAY}"
D="${2:?usage: all_skills.sh OUT_DIR DELAY}"
diwa finetune-skills --skills all --policies released:state/bc --wm released:state/world_model \
  --reward released:state/reward --out "$O" --workers 1 --seed 41 --eval-seed 1041 --action-delay "$D" \
  --no-progress --json
