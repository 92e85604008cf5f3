"""`ros2 launch diwa_bringup finetune.launch.py`: the graph in graphs/finetune.yaml (same as `diwa launch finetune`)."""

from diwa_bringup.graph_launch import graph_launch_description


def generate_launch_description():
    return graph_launch_description("finetune")
