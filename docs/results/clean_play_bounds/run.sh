#!/usr/bin/env bash
# 50,000 frames of wide play per seed with the floor and the operator's put-back (issue 23): every
# recorded frame inside the scene's physical bounds, and how often a block had to be put back.
# Usage (after `source scripts/env.sh`, from the repository root): run.sh SCRATCH_DIR [SEED ...]
set -euo pipefail
SCRATCH="${1:?usage: run.sh SCRATCH_DIR [SEED ...]}"
shift
SEEDS=("$@")
[ ${#SEEDS[@]} -gt 0 ] || SEEDS=(1 2 31)
HERE="$(cd "$(dirname "$0")" && pwd)"
for seed in "${SEEDS[@]}"; do
  out="$SCRATCH/play_$seed"
  [ -f "$out/meta.json" ] || diwa data collect-play --frames 50000 --seed "$seed" --near-miss-prob 0.3 \
    --near-miss-m 0.03 0.09 --free-motion-box -0.45 -0.45 0.30 0.40 0.05 0.66 --out "$out" --quiet
done
python - "$SCRATCH" "${SEEDS[@]}" > "$HERE/summary.json" <<'PY'
import json
import sys

import numpy as np
from diwa.data.dataset import load_dataset
from diwa.sim.obs_layout import BLOCK_COLORS, block_pos
from diwa.sim.scene_bounds import first_violation

scratch, seeds = sys.argv[1], sys.argv[2:]
rows = []
for seed in seeds:
    data = load_dataset(f"{scratch}/play_{seed}", images=False)
    scene = np.asarray(data.scene_obs)
    rows.append(
        {
            "seed": int(seed),
            "frames": len(data),
            "episodes": len(data.episodes),
            "blocks_put_back": data.provenance["blocks_put_back"],
            "first_violation": first_violation(np.asarray(data.robot_obs), scene),
            "lowest_block_z": {c: float(scene[:, block_pos(c)][:, 2].min()) for c in BLOCK_COLORS},
            "content_hash": data.content_hash(),
        }
    )
print(json.dumps(rows, indent=1))
PY
cat "$HERE/summary.json"
