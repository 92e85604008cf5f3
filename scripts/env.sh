# Source me (bash): `source scripts/env.sh`. Activates the virtualenv, the ROS 2 Jazzy underlay
# (system /opt/ros/jazzy or the venv's wheels) and, unless --no-workspace is given, this workspace's
# install/ overlay, so that `python -c "import rclpy, diwa, diwa_msgs.action"` works and the
# workspace's executables are on PATH.
_diwa_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_diwa_venv="${DIWA_VENV:-$_diwa_root/.venv}"
_diwa_nounset=0; case $- in *u*) _diwa_nounset=1; set +u;; esac   # ROS setup files assume unset is empty

if [ -d /opt/ros/jazzy ]; then
  source /opt/ros/jazzy/setup.bash
fi
if [ ! -x "$_diwa_venv/bin/python" ]; then
  echo "scripts/env.sh: no virtualenv at $_diwa_venv; run 'make setup' first" >&2
else
  export VIRTUAL_ENV="$_diwa_venv"
  case ":$PATH:" in *":$_diwa_venv/bin:"*) ;; *) export PATH="$_diwa_venv/bin:$PATH";; esac
  if [ ! -d /opt/ros/jazzy ]; then
    # The ROS wheels install into the venv prefix, which then acts as the ament underlay.
    export AMENT_PREFIX_PATH="$_diwa_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
    export CMAKE_PREFIX_PATH="$_diwa_venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  fi
fi
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"

if [ "${1:-}" != "--no-workspace" ] && [ -f "$_diwa_root/install/local_setup.bash" ]; then
  # local_setup adds only this workspace's packages and keeps the underlay above on the paths
  # (setup.bash would reset AMENT_PREFIX_PATH and lose the wheels' type support).
  source "$_diwa_root/install/local_setup.bash"
fi

[ "$_diwa_nounset" = 1 ] && set -u
unset _diwa_root _diwa_venv _diwa_nounset
