from setuptools import find_packages, setup

PACKAGE = "diwa_calvin_bridge"

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
    description="The CALVIN-style simulator as a mock Franka on the ROS graph.",
    license="Apache-2.0",
    entry_points={"console_scripts": [f"mock_robot = {PACKAGE}.mock_robot_node:main"]},
)
