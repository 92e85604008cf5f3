"""What `ros2 launch PKG FILE arg:=value ...` does (ros2launch's launch_a_launch_file, Jazzy), for a
machine that has the launch and launch_ros packages but not ros2cli: the file found in the package's
share directory, its arguments passed as launch arguments, run by launch's LaunchService until SIGINT.
"""

import sys
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription, LaunchService
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import AnyLaunchDescriptionSource


def main() -> int:
    package, file, *assignments = sys.argv[1:]
    path = Path(get_package_share_directory(package)) / "launch" / file
    arguments = [tuple(a.split(":=", 1)) for a in assignments]
    service = LaunchService(argv=assignments, noninteractive=True)
    include = IncludeLaunchDescription(AnyLaunchDescriptionSource(str(path)), launch_arguments=arguments)
    service.include_launch_description(LaunchDescription([include]))
    return service.run()


if __name__ == "__main__":
    sys.exit(main())
