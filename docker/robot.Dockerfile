# Robot image: ROS 2 Jazzy + MoveIt 2 + franka_ros2 + CUDA torch, for the PC that drives the Franka,
# and franky-sim (an FR3 on libfranka's protocol) in a venv of its own, for rehearsals without an arm.
# Build from the workspace root:  docker build -f docker/robot.Dockerfile -t diwa-ros:robot .
FROM ros:jazzy-ros-base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# franka_ros2 pinned to a release instead of its moving `jazzy` branch: v3.4.0 (2026-06-23), the newest
# tag; its CHANGELOG.rst says it requires ROS 2 Jazzy, libfranka >= 0.20.4 and franka_description
# >= 2.8.0, and its dependency.repos pins libfranka 0.20.5 and franka_description 2.8.0. The build
# stops if the tag no longer names the commit it named when this was written.
ARG FRANKA_ROS2_VERSION=v3.4.0
ARG FRANKA_ROS2_COMMIT=29cb85a677b8f08888a0eb6f553ba89666ef64f7
ENV DEBIAN_FRONTEND=noninteractive PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends \
      git python3-pip python3-venv python3-vcstool python3-colcon-common-extensions \
      python3-numpy python3-opencv \
      ros-jazzy-moveit ros-jazzy-moveit-py ros-jazzy-moveit-servo ros-jazzy-moveit-configs-utils \
      ros-jazzy-rosbag2-storage-mcap ros-jazzy-cv-bridge ros-jazzy-launch-ros \
    && rm -rf /var/lib/apt/lists/*

# numpy stays apt's: ROS's compiled Python modules (rclpy's message support, cv_bridge,
# python3-opencv, moveit_py) are built against it, and a numpy 2 from pip stops them importing. Every
# later pip call in the system Python (ours, and rosdep's pip installer, which runs `pip install -U`)
# is held to it, and to the torch version the CPU machines pin, through PIP_CONSTRAINT.
RUN python3 -c 'import numpy; print(f"numpy=={numpy.__version__}")' > /etc/pip-constraints.txt \
    && echo "torch==2.13.0" >> /etc/pip-constraints.txt
ENV PIP_CONSTRAINT=/etc/pip-constraints.txt

# franka_ros2 and its dependencies, as franka_ros2 v3.4.0 does it: README.md (local install) and
# Dockerfile: `vcs import src < dependency.repos --recursive --skip-existing` (vcstool's flag is
# --skip-existing), `rosdep install --from-paths src --ignore-src --rosdistro jazzy -y
# --skip-keys=zed_wrapper`; franka_entrypoint.sh: patches/manage_overruns.patch applied to the
# ros2_control checkout (franka_hardware's ros2_control xacros set manage_overruns="false"), with a
# warning where it does not apply. The README's build: -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTS=OFF.
# dependency.repos at v3.4.0 still names branches (ros2_control and gz_ros2_control `jazzy`, a few `main`):
# those follow their heads, as in franka_ros2's own builds.
# rosdep installs with apt, so the package lists removed above are fetched again for it.
WORKDIR /franka_ws
RUN git clone --depth 1 --branch "${FRANKA_ROS2_VERSION}" https://github.com/frankarobotics/franka_ros2.git src/franka_ros2 \
    && test "$(git -C src/franka_ros2 rev-parse HEAD)" = "${FRANKA_ROS2_COMMIT}" \
    && vcs import src < src/franka_ros2/dependency.repos --recursive --skip-existing \
    && { git -C src/ros2_control apply --verbose /franka_ws/src/franka_ros2/patches/manage_overruns.patch \
         || echo "warning: franka_ros2's manage_overruns.patch did not apply to ros2_control"; } \
    && apt-get update && rosdep update --rosdistro jazzy \
    && rosdep install --from-paths src --ignore-src --rosdistro jazzy -y --skip-keys=zed_wrapper \
    && rm -rf /var/lib/apt/lists/* \
    && . /opt/ros/jazzy/setup.sh \
    && colcon build --cmake-args -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DBUILD_TESTS=OFF

WORKDIR /ws
COPY requirements/ requirements/
# CUDA torch (PyPI's Linux wheel), then requirements/python.txt less the lines this image must not
# install: what needs numpy 2, which the virtualenv machines pin (numpy itself, apt's above; pandas 3.x,
# for the LeRobot export only and imported lazily; datasets, the tests' LeRobot reader; franky-sim,
# whose pin -> cmeel-boost needs numpy >= 2: it gets the venv below), and every distribution apt
# already installed (pip cannot replace a Debian-installed package: no RECORD file; apt's version serves).
RUN pip3 install "torch==2.13.0" \
    && apt_dists="$(pip3 list --path /usr/lib/python3/dist-packages --format=freeze | cut -d= -f1 | sed 's/[-_.]/[-_.]/g' | paste -sd'|')" \
    && grep -v -i -E "^(numpy|pandas|datasets|franky-sim|${apt_dists})==" requirements/python.txt > /tmp/requirements-image.txt \
    && pip3 install -r /tmp/requirements-image.txt
# franky-sim for the compose service `franky-sim`, with its own numpy 2, away from ROS's Python.
RUN python3 -m venv /opt/franky-sim \
    && env -u PIP_CONSTRAINT /opt/franky-sim/bin/pip install \
         "$(grep -E '^franky-sim==' requirements/python.txt)" "$(grep -E '^numpy==' requirements/python.txt)" \
    && /opt/franky-sim/bin/python -c "import franky_sim.mujoco_simulator"

# The package.xml keys rosdistro lacks are defined in rosdep/diwa.yaml, registered before
# `rosdep update` (a `yaml file://` source, as rosdep's sources.list.d takes them).
COPY rosdep/ rosdep/
RUN echo "yaml file:///ws/rosdep/diwa.yaml" > /etc/ros/rosdep/sources.list.d/10-diwa.list \
    && rosdep update --rosdistro jazzy

# DIWA_FRANKA_ROS2=true turns on the package.xml dependencies that only the Franka stack has (REP 149
# conditions, which rosdep and colcon evaluate against the environment). franka_ros2's packages are
# not released for Jazzy: with its install sourced, rosdep --ignore-src finds them in AMENT_PREFIX_PATH.
ENV DIWA_FRANKA_ROS2=true
COPY . .
# --base-paths src: tests/standin_interfaces must never shadow the real moveit_msgs and franka_msgs.
# The last line checks that numpy and OpenCV are still apt's and that ROS's compiled modules import.
RUN apt-get update && . /franka_ws/install/setup.sh \
    && rosdep install --from-paths src --ignore-src --rosdistro jazzy -y \
    && rm -rf /var/lib/apt/lists/* \
    && pip3 install --no-deps -e src/diwa_core \
    && colcon build --base-paths src --symlink-install \
    && . install/setup.sh \
    && python3 -c "import numpy, cv2, cv_bridge, torch, franky, diwa, moveit.planning; from sensor_msgs.msg import Image; \
assert numpy.__file__.startswith('/usr/lib/python3/'), numpy.__file__; \
assert cv2.__file__.startswith('/usr/lib/python3/'), cv2.__file__"

ENV DIWA_UNDERLAY=/franka_ws/install/setup.bash
COPY docker/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
CMD ["ros2", "launch", "diwa_bringup", "deploy.launch.yaml", "robot:=franka", "use_fake_hardware:=true"]
