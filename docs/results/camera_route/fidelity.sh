#!/usr/bin/env bash
# Imagination fidelity of the camera world model: the camera BC policies run in the simulator (from
# rendered cameras); each episode's actions are replayed 5 times in the world model and the reward
# classifier's verdict is compared with the oracle's (diwa eval-fidelity).
#
#   docs/results/camera_route/fidelity.sh RUN_DIR S SKILLS EPISODES   (after source scripts/env.sh)
set -euo pipefail
O="${1:?usage: fidelity.sh RUN_DIR S SKILLS EPISODES}"
diwa eval-fidelity --wm "$O/wm" --reward "$O/rewards" --agent "$O/bc/policies" --skills "${3:?}" \
  --episodes "${4:?}" --samples 5 --seed $((1000 + ${2:?})) --out "$O/fidelity" --json
