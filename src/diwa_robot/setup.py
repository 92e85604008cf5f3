from setuptools import find_packages, setup

PACKAGE = "diwa_robot"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="DiWA-ROS maintainers",
    maintainer_email="maintainers@diwa-ros.dev",
    description="Shared by every node that moves the robot: safety filter, command arbiter, e-stop, backends.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "command_arbiter = diwa_robot.arbiter_node:main",
            "robot_state = diwa_robot.robot_state_node:main",
            "franky_robot = diwa_robot.franky_robot_node:main",
        ],
        "diwa.commands": [
            "robot_check = diwa_robot.robot_check_cli",
        ],
    },
)
