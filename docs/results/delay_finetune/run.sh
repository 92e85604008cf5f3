#!/usr/bin/env bash
# Fine-tune the released BC policy of one skill in the released world model with 0, 1 and 2 control
# periods of command delay (rollouts and the paired evaluation both delayed), then evaluate every
# policy (BC and the three fine-tuned ones) offline at each delay on the same 100 paired episodes.
#
#   docs/results/delay_finetune/run.sh OUT_DIR [SKILL]   (after `source scripts/env.sh`; repository root)
set -euo pipefail
O="${1:?usage: run.sh OUT_DIR [SKILL]}"
SKILL="${2:-open_drawer}"
SEED=41 EVAL_SEED=1041   # the release's fine-tuning and evaluation seeds (`diwa models`)
mkdir -p "$O/$SKILL"
for d in 0 1 2; do
  if [ ! -f "$O/$SKILL/delay$d/evaluation.json" ]; then
    /usr/bin/time -f "%e s" diwa finetune --skill "$SKILL" --wm released:state/world_model \
      --policy "released:state/bc/$SKILL" --reward released:state/reward --out "$O/$SKILL/delay$d" \
      --seed "$SEED" --eval-seed "$EVAL_SEED" --action-delay "$d" --no-progress --json > "$O/$SKILL/finetune_delay$d.log" 2>&1
  fi
done
for policy in bc delay0 delay1 delay2; do
  path="$O/$SKILL/$policy"
  [ "$policy" = bc ] && path="released:state/bc/$SKILL"
  for d in 0 1 2 3; do
    out="$O/$SKILL/eval_${policy}_at$d.json"
    [ -f "$out" ] && continue
    diwa eval --skill "$SKILL" --policy "$path" --episodes 100 --seed "$EVAL_SEED" --action-delay "$d" \
      --out "$O/$SKILL/eval_${policy}_at$d" --json --quiet | tail -1 > "$out.tmp" && mv "$out.tmp" "$out"
  done
done
