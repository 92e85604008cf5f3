"""`ros2 launch diwa_bringup collect.launch.py`: the graph in graphs/collect.yaml (same as `diwa launch collect`)."""

from diwa_bringup.graph_launch import graph_launch_description


def generate_launch_description():
    return graph_launch_description("collect")
