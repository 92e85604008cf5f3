#!/usr/bin/env bash
# The released state policies against their BC policies on 100 episodes per skill with an evaluation
# seed used neither in training (41) nor in the release's own evaluation (1041); same seed, so the
# start states are paired.  (after `source scripts/env.sh`; repository root)
set -euo pipefail
OUT=docs/results/release_fresh_eval
diwa eval --skills all --policy released:state --episodes 100 --seed 777 --out "$OUT/finetuned" --json
diwa eval --skills all --policy released:state/bc --episodes 100 --seed 777 --out "$OUT/bc" --json
