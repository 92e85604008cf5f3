#!/usr/bin/env bash
# colcon build of the whole workspace; expects scripts/env.sh (--no-workspace) to be sourced.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
colcon build --base-paths src --symlink-install --event-handlers console_cohesion+ summary+ \
  --cmake-args -DPython3_EXECUTABLE="$(command -v python)" -DBUILD_TESTING=OFF "$@"
