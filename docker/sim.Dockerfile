# Simulation image: ROS 2 Jazzy from apt, the workspace built with colcon, CPU torch.
# Build from the workspace root:  docker build -f docker/sim.Dockerfile -t diwa-ros:sim .
FROM ros:jazzy-ros-base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV DEBIAN_FRONTEND=noninteractive PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends \
      python3-pip python3-venv python3-colcon-common-extensions \
      ros-jazzy-rosbag2-storage-mcap ros-jazzy-cv-bridge ros-jazzy-rviz2 ros-jazzy-launch-ros \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /ws
COPY requirements/ requirements/
# CPU-only torch, then the project's pinned Python dependencies (constrained to that torch).
RUN pip3 install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0" \
    && pip3 install -r requirements/python.txt -c <(echo "torch==2.13.0")
COPY . .
# rosdep installs with apt: fetch the package lists removed above. --base-paths src keeps the
# test-only tests/standin_interfaces out of the image.
RUN apt-get update && rosdep update --rosdistro jazzy \
    && rosdep install --from-paths src --ignore-src -y --skip-keys "python3-pybullet-pip python3-gymnasium-pip python3-torch-pip python3-safetensors-pip python3-rosbags-pip python3-mcap-pip python3-tensorboard-pip" \
    && rm -rf /var/lib/apt/lists/* \
    && pip3 install --no-deps -e src/diwa_core \
    && . /opt/ros/jazzy/setup.sh && colcon build --base-paths src --symlink-install

COPY docker/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
CMD ["ros2", "launch", "diwa_bringup", "deploy.launch.py", "robot:=sim"]
