#!/usr/bin/env bash
# Same seeds, old and new code, through the command line: a short behaviour cloning, a short
# world-model training, a reward classifier and a short fine-tuning (4 iterations: 2 of critic warm-up,
# then 2 that update the actor) must give byte-identical weights.
# The inputs (play, demonstrations) are made once by the new code and read by both.
#   docs/results/refactor_identity/pipeline_identity.sh OLD_COMMIT   (after `source scripts/env.sh`)
set -euo pipefail
OLD="${1:?usage: pipeline_identity.sh OLD_COMMIT}"
WORK=$(mktemp -d)
TREE="$WORK/old_tree"
git worktree add -q "$TREE" "$OLD"
trap 'git worktree remove --force "$TREE"; rm -rf "$WORK"' EXIT
diwa data collect-play --frames 1200 --seed 3 --out "$WORK/play" --quiet > /dev/null
diwa data collect-demos --skill open_drawer --episodes 5 --seed 3 --out "$WORK/demos" --quiet > /dev/null

pipeline() {  # pipeline OUT: the four trainings with the code on PYTHONPATH
  local out="$1"
  diwa train-policy --skill open_drawer --demos "$WORK/demos" --out "$out/bc" --epochs 3 --seed 1 --threads 1 --no-progress > /dev/null
  diwa train-wm --data "$WORK/play" --out "$out/wm" --profile quick --steps 20 --seed 1 --threads 1 --no-progress > /dev/null
  diwa train-reward --skill open_drawer --wm "$out/wm" --data "$WORK/play" --out "$out/reward" --epochs 30 --seed 1 --threads 1 > /dev/null
  diwa finetune --skill open_drawer --wm "$out/wm" --policy "$out/bc" --reward "$out/reward" --out "$out/ft" \
    --iterations 4 --eval-episodes 0 --seed 1 --threads 1 --no-progress > /dev/null
}
PYTHONPATH="$TREE/src/diwa_core:${PYTHONPATH:-}" pipeline "$WORK/old"
pipeline "$WORK/new"
for part in bc wm reward ft; do
  old=$(cd "$WORK/old/$part" && sha256sum ./*.safetensors | sort -k2 | sha256sum | cut -c1-16)
  new=$(cd "$WORK/new/$part" && sha256sum ./*.safetensors | sort -k2 | sha256sum | cut -c1-16)
  [ "$old" = "$new" ] && same=identical || same=DIFFER
  echo "$part: weights $old -> $new ($same)"
done
