from setuptools import find_packages, setup

PACKAGE = "diwa_play"

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
    description="Play data: scripted play and teleoperation through the command arbiter, recording to rosbag2 MCAP.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "recorder = diwa_play.recorder_node:main",
            "training_server = diwa_training.training_server:main",
            "scripted_play = diwa_play.scripted_play_node:main",
            "teleop = diwa_play.teleop_node:main",
        ]
    },
)
