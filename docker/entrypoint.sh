#!/usr/bin/env bash
# Source ROS 2, the optional franka_ros2 underlay and this workspace, then run the command.
set -e
source /opt/ros/jazzy/setup.bash
[ -n "${DIWA_UNDERLAY:-}" ] && source "$DIWA_UNDERLAY"
source /ws/install/setup.bash
exec "$@"
