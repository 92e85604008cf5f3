# Robot image: ROS 2 Jazzy + MoveIt 2 + franka_ros2 + CUDA torch, for the PC that drives the Franka.
# Build from the workspace root:  docker build -f docker/robot.Dockerfile -t diwa-ros:robot .
FROM ros:jazzy-ros-base
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ARG FRANKA_ROS2_REF=jazzy
ENV DEBIAN_FRONTEND=noninteractive PIP_BREAK_SYSTEM_PACKAGES=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends \
      git python3-pip python3-vcstool python3-colcon-common-extensions \
      ros-jazzy-moveit ros-jazzy-moveit-py ros-jazzy-moveit-servo ros-jazzy-moveit-configs-utils \
      ros-jazzy-rosbag2-storage-mcap ros-jazzy-cv-bridge ros-jazzy-launch-ros \
    && rm -rf /var/lib/apt/lists/*

# franka_ros2 and its pinned dependencies (libfranka, franka_description, ...) from its dependency.repos.
# rosdep installs with apt, so the package lists removed above are fetched again for it.
WORKDIR /franka_ws
RUN git clone --depth 1 --branch "${FRANKA_ROS2_REF}" https://github.com/frankarobotics/franka_ros2.git src/franka_ros2 \
    && vcs import src < src/franka_ros2/dependency.repos --recursive --skipexisting \
    && apt-get update && rosdep update --rosdistro jazzy \
    && rosdep install --from-paths src --ignore-src -y \
    && rm -rf /var/lib/apt/lists/* \
    && . /opt/ros/jazzy/setup.sh && colcon build --cmake-args -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF

WORKDIR /ws
COPY requirements/ requirements/
# CUDA torch of the same version the CPU machines pin.
RUN pip3 install "torch==2.13.0" && pip3 install -r requirements/python.txt -c <(echo "torch==2.13.0")
COPY . .
# --base-paths src: tests/standin_interfaces must never shadow the real moveit_msgs and franka_msgs.
RUN apt-get update && rosdep install --from-paths src --ignore-src -y --skip-keys "python3-pybullet-pip python3-gymnasium-pip python3-torch-pip python3-safetensors-pip python3-rosbags-pip python3-mcap-pip python3-tensorboard-pip" \
    && rm -rf /var/lib/apt/lists/* \
    && pip3 install --no-deps -e src/diwa_core \
    && . /franka_ws/install/setup.sh && colcon build --base-paths src --symlink-install

ENV DIWA_UNDERLAY=/franka_ws/install/setup.bash
COPY docker/entrypoint.sh /entrypoint.sh
ENTRYPOINT ["/entrypoint.sh"]
CMD ["ros2", "launch", "diwa_bringup", "deploy.launch.py", "robot:=franka", "use_fake_hardware:=true"]
