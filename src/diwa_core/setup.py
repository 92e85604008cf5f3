"""ament_python entry point for colcon; the package metadata lives in pyproject.toml.

colcon builds ament_python packages through setup.py, and ROS tools find a package through
its resource marker and package.xml, so only those install locations are declared here.
"""

from setuptools import setup

setup(
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/diwa_core"]),
        ("share/diwa_core", ["package.xml"]),
    ],
)
