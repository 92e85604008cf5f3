#!/usr/bin/env bash
# The released BC and fine-tuned policies of every skill, offline on the release's 100 paired
# evaluation episodes (seed 1041), with 0, 1 and 2 control periods of command delay.
#
#   docs/results/delay_finetune/released_at_delay.sh OUT_DIR   (after `source scripts/env.sh`; repository root)
set -euo pipefail
O="${1:?usage: released_at_delay.sh OUT_DIR}"
mkdir -p "$O"
MODELS="$(python -c 'from diwa.released import resolve; print(resolve("released:state/world_model").parent)')"
for d in 0 1 2; do
  for policy in bc finetuned; do
    out="$O/${policy}_at$d.json"
    [ -f "$out" ] && continue
    path="$MODELS"
    [ "$policy" = bc ] && path="$MODELS/bc"
    diwa eval --skills all --policy "$path" --episodes 100 --seed 1041 --action-delay "$d" \
      --out "$O/${policy}_at$d" --json --quiet | tail -1 > "$out.tmp" && mv "$out.tmp" "$out"
  done
done
