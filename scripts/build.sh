#!/usr/bin/env bash
# colcon build of the whole workspace; expects scripts/env.sh (--no-workspace) to be sourced.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BASE_PATHS=(src)
if [ ! -d /opt/ros/jazzy ]; then
  # No system ROS: moveit_msgs and franka_msgs do not exist, so build their test-only stand-ins
  # (tests/standin_interfaces/README.md). Never on a system ROS, where they would shadow the real ones.
  BASE_PATHS+=(tests/standin_interfaces)
fi
colcon build --base-paths "${BASE_PATHS[@]}" --symlink-install --event-handlers console_cohesion+ summary+ \
  --cmake-args -DPython3_EXECUTABLE="$(command -v python)" -DBUILD_TESTING=OFF "$@"
