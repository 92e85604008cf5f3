# Source after scripts/env.sh: launch / launch_yaml / launch_ros 3.4.3 / 0.26.6 (Jazzy branches)
# installed with `pip install --target "$LAUNCH_PKGS"`, and composition_interfaces (rcl_interfaces,
# jazzy) built with colcon into "$IFACE_WS" (launch_ros imports it); neither is a project dependency.
LAUNCH_PKGS="${LAUNCH_PKGS:-/work/scratch/launch_pkgs}"
IFACE_WS="${IFACE_WS:-/work/scratch/iface_ws}"
export PYTHONPATH="$LAUNCH_PKGS:$IFACE_WS/install/composition_interfaces/lib/python3.11/site-packages:$PYTHONPATH"
export AMENT_PREFIX_PATH="$AMENT_PREFIX_PATH:$LAUNCH_PKGS:$IFACE_WS/install/composition_interfaces"
export LD_LIBRARY_PATH="$IFACE_WS/install/composition_interfaces/lib:${LD_LIBRARY_PATH:-}"
