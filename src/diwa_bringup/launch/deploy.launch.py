"""`ros2 launch diwa_bringup deploy.launch.py`: the graph in graphs/deploy.yaml (same as `diwa launch deploy`)."""

from diwa_bringup.graph_launch import graph_launch_description


def generate_launch_description():
    return graph_launch_description("deploy")
