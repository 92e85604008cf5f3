"""Shared guards of the integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_realtime_scheduling_left_behind() -> Iterator[None]:
    """A test must leave the pytest process on the normal scheduler. franky's Robot() raises its
    calling thread to SCHED_FIFO 99 (as root), and the node processes that later tests start
    inherit it: their executors then spin at real-time priority and starve their own callbacks
    (docs/results/franky_realtime_priority; it once made the teleop test fail after the franky
    tests)."""
    yield
    policy = os.sched_getscheduler(0)
    if policy != os.SCHED_OTHER:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        pytest.fail(f"the test left the process on scheduling policy {policy} (SCHED_OTHER is {os.SCHED_OTHER})")
