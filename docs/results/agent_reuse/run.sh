#!/usr/bin/env bash
# A latent-conditioned BC policy (DiWA's conditioning) on the issue-22 seed set's world model, then
# agent_reuse.py on it. Needs /work/runs/s31clean from scripts/seed_set.sh (seeds of issue 22).
set -euo pipefail
R=${R:-/work/runs/s31clean}
W=${W:-/work/runs/agent_reuse}
SKILL=${1:-open_drawer}
mkdir -p "$W"
[ -f "$W/$SKILL.npy" ] || diwa featurize --wm "$R/wm" --data "$R/bc/demos/$SKILL" --out "$W/$SKILL.npy" --seed 0
[ -f "$W/policy_$SKILL/policy.json" ] || diwa train-policy --skill "$SKILL" --demos "$R/bc/demos/$SKILL" \
  --features "$W/$SKILL.npy" --out "$W/policy_$SKILL" --epochs 200 --seed 0 --no-progress
python "$(dirname "$0")/agent_reuse.py" "$W/policy_$SKILL" "$SKILL" 50 8080 "$(dirname "$0")/$SKILL.json"
