"""DiWA: improve diffusion-policy robot skills by RL inside a world model learned from play data.

This package is ROS-free on purpose: the science runs and is tested on any laptop, and the
ROS 2 nodes in the sibling packages are thin adapters around it.
"""

__version__ = "0.1.0"
