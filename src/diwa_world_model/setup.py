from setuptools import find_packages, setup

PACKAGE = "diwa_world_model"

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
    description="Play-data recording and teleoperation, training and fine-tuning action servers.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "recorder = diwa_world_model.recorder_node:main",
            "training_server = diwa_world_model.training_server:main",
            "scripted_play = diwa_world_model.scripted_play_node:main",
            "teleop = diwa_world_model.teleop_node:main",
        ]
    },
)
