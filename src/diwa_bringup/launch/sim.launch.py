"""`ros2 launch diwa_bringup sim.launch.py`: the graph in graphs/sim.yaml (same as `diwa launch sim`)."""

from diwa_bringup.graph_launch import graph_launch_description


def generate_launch_description():
    return graph_launch_description("sim")
