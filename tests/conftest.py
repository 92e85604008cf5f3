"""Order of the integration tests.

The franky-sim tests run last: after a franky-sim server had run (and been killed) in the same
session, the teleop DDS test received only a few of the arbiter's twists, every time, while it
passes alone and after any other module. The cause is not found yet (issue 26's notes); running
them last keeps both tests meaningful meanwhile.
"""

from __future__ import annotations

import pytest

LAST = "test_robot_check.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name == LAST)  # stable: everything else keeps its order
