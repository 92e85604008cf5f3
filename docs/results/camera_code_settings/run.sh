#!/usr/bin/env bash
# Issue 25: which of the sharper code's three settings makes the frozen image codes hold the LED.
# For each one-setting profile beside this file (and `camera`, the shipped profile, as the control),
# the autoencoder alone (the RSSM for 1 step) on the camera play of seed set 41, then the linear
# probes of ../camera_route/probe.py on its codes.
#
#   docs/results/camera_code_settings/run.sh PLAY_DIR OUT_DIR [PROFILE ...]    (after scripts/env.sh)
set -euo pipefail
PLAY="${1:?usage: run.sh PLAY_DIR OUT_DIR [PROFILE ...]}"
OUT="${2:?usage: run.sh PLAY_DIR OUT_DIR [PROFILE ...]}"
shift 2
HERE="$(cd "$(dirname "$0")" && pwd)"
PROFILES=("$@")
[ ${#PROFILES[@]} -gt 0 ] || PROFILES=(camera weighting code128 steps6000)
mkdir -p "$OUT"
for p in "${PROFILES[@]}"; do
  if [ ! -f "$OUT/$p/probe.json" ]; then
    started=$(date +%s)
    profile="$p"
    [ ! -f "$HERE/$p.yaml" ] || profile="$HERE/$p.yaml"
    diwa train-wm --data "$PLAY" --out "$OUT/$p/wm" --profile "$profile" --steps 1 --seed 41 --threads 1 \
      --no-progress --json > "$OUT/$p.train.json"
    python "$HERE/../camera_route/probe.py" "$OUT/$p/wm" "$PLAY" "$OUT/$p/probe.json"
    echo "{\"profile\": \"$p\", \"wall_s\": $(( $(date +%s) - started ))}" > "$OUT/$p/timing.json"
  fi
  cp "$OUT/$p/probe.json" "$HERE/probe_$p.json"
done
