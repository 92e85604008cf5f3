"""`ros2 launch diwa_bringup finetune.launch.py`: finetune.launch.yaml, the graph itself, under the name earlier
releases documented (arguments pass through)."""

from pathlib import Path

from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import AnyLaunchDescriptionSource


def generate_launch_description() -> LaunchDescription:
    graph = Path(__file__).with_name("finetune.launch.yaml")
    return LaunchDescription([IncludeLaunchDescription(AnyLaunchDescriptionSource(str(graph)))])
