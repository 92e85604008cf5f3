# Simulation image: ROS 2 Jazzy from apt, the workspace built with colcon, CPU torch.
# Build from the workspace root:  docker build -f docker/sim.Dockerfile -t diwa-ros:sim .
FROM ros:jazzy-ros-base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV DEBIAN_FRONTEND=noninteractive PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends \
      python3-pip python3-venv python3-colcon-common-extensions python3-numpy python3-opencv \
      ros-jazzy-rosbag2-storage-mcap ros-jazzy-cv-bridge ros-jazzy-rviz2 ros-jazzy-launch-ros \
    && rm -rf /var/lib/apt/lists/*

# numpy stays apt's: ROS's compiled Python modules (rclpy's message support, cv_bridge,
# python3-opencv) are built against it, and a numpy 2 from pip stops them importing. Every later pip
# call (ours, and rosdep's pip installer, which runs `pip install -U`) is held to it, and to the torch
# version the CPU machines pin, through PIP_CONSTRAINT.
RUN python3 -c 'import numpy; print(f"numpy=={numpy.__version__}")' > /etc/pip-constraints.txt \
    && echo "torch==2.13.0" >> /etc/pip-constraints.txt
ENV PIP_CONSTRAINT=/etc/pip-constraints.txt

WORKDIR /ws
COPY requirements/ requirements/
# CPU-only torch, then requirements/python.txt less the lines this image must not install: what needs
# numpy 2, which the virtualenv machines pin (numpy itself, apt's above; pandas 3.x, for the LeRobot
# export only and imported lazily; datasets, the tests' LeRobot reader; franky-sim, whose pin ->
# cmeel-boost needs numpy >= 2, and which the robot image carries in a venv), and every distribution
# apt already installed (pip cannot replace a Debian-installed package: no RECORD file).
RUN pip3 install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0" \
    && apt_dists="$(pip3 list --path /usr/lib/python3/dist-packages --format=freeze | cut -d= -f1 | sed 's/[-_.]/[-_.]/g' | paste -sd'|')" \
    && grep -v -i -E "^(numpy|pandas|datasets|franky-sim|${apt_dists})==" requirements/python.txt > /tmp/requirements-image.txt \
    && pip3 install -r /tmp/requirements-image.txt

# The package.xml keys rosdistro lacks are defined in rosdep/diwa.yaml, registered before
# `rosdep update` (a `yaml file://` source, as rosdep's sources.list.d takes them). DIWA_FRANKA_ROS2
# stays unset: the Franka-only dependencies (REP 149 conditions in package.xml) are not wanted here.
COPY rosdep/ rosdep/
RUN echo "yaml file:///ws/rosdep/diwa.yaml" > /etc/ros/rosdep/sources.list.d/10-diwa.list \
    && rosdep update --rosdistro jazzy

COPY . .
# rosdep installs with apt: fetch the package lists removed above. --base-paths src keeps the
# test-only tests/standin_interfaces out of the image. The last line checks that numpy and OpenCV
# are still apt's and that ROS's compiled modules import.
RUN apt-get update \
    && rosdep install --from-paths src --ignore-src --rosdistro jazzy -y \
    && rm -rf /var/lib/apt/lists/* \
    && pip3 install --no-deps -e src/diwa_core \
    && . /opt/ros/jazzy/setup.sh && colcon build --base-paths src --symlink-install \
    && . install/setup.sh \
    && python3 -c "import numpy, cv2, cv_bridge, torch, diwa; from sensor_msgs.msg import Image; \
assert numpy.__file__.startswith('/usr/lib/python3/'), numpy.__file__; \
assert cv2.__file__.startswith('/usr/lib/python3/'), cv2.__file__"

COPY docker/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
CMD ["ros2", "launch", "diwa_bringup", "deploy.launch.yaml", "robot:=sim"]
