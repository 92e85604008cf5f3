"""Which thread opens the robot and starts its motions, and at which scheduling policy, with a
stand-in for franky that behaves as franky 2.0.0 was measured to (docs/results/franky_realtime_priority):
Robot() raises its calling thread to SCHED_FIFO, and a motion's control thread takes the policy of the
thread that starts it. The real franky runs against franky-sim in tests/test_robot_check.py."""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
import pytest

import diwa_robot.franky_arm as franky_arm


class FakeRobot:
    opened_on: ClassVar[int | None] = None
    moves: ClassVar[list[tuple[int, int]]] = []  # (thread, policy) of each move()

    def __init__(self, hostname: str, realtime_config: str) -> None:
        FakeRobot.opened_on = threading.get_ident()
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))  # as franky's Robot() does
        self.relative_dynamics_factor = 1.0
        self.current_pose = SimpleNamespace(end_effector_pose=SimpleNamespace(quaternion=(0, 0, 0, 1)))
        self.translation_velocity_limit = SimpleNamespace(max=1.7)

    def move(self, motion: object, asynchronous: bool = False) -> None:
        FakeRobot.moves.append((threading.get_ident(), os.sched_getscheduler(0)))


def fake_franky() -> SimpleNamespace:
    def record(*args: object, **kwargs: object) -> tuple:
        return args

    return SimpleNamespace(
        Robot=FakeRobot,
        Gripper=lambda hostname: SimpleNamespace(width=0.08),
        RealtimeConfig=SimpleNamespace(Enforce="enforce", Ignore="ignore"),
        Exception=RuntimeError,
        Twist=record,
        Duration=record,
        CartesianVelocityMotion=record,
        CartesianMotion=record,
        Affine=record,
        RelativeDynamicsFactor=record,
    )


@pytest.fixture
def arm_factory(monkeypatch):
    allowed = []

    def try_realtime() -> None:  # on a thread of its own, which ends with it
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
            allowed.append(True)
        except PermissionError:
            pass

    probe = threading.Thread(target=try_realtime)
    probe.start()
    probe.join()
    if not allowed:  # the stand-in raises a thread's policy as franky does: root here and in CI
        pytest.skip("no permission for real-time scheduling")
    monkeypatch.setattr(franky_arm, "_franky", fake_franky)
    FakeRobot.moves = []
    arms = []

    def make(realtime: bool) -> franky_arm.FrankyArm:
        arms.append(franky_arm.FrankyArm("127.0.0.1", (0.0, 0.0, 0.0), 0.3, realtime=realtime))
        return arms[-1]

    yield make
    for arm in arms:  # a real-time motion thread must not outlive its test (it would stay in the process)
        arm.close()


@pytest.mark.parametrize("realtime", [True, False])
def test_one_thread_opens_the_robot_and_starts_every_motion_and_the_caller_stays_normal(arm_factory, realtime):
    arm = arm_factory(realtime)
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the caller: a node's executor thread
    arm.send_twist(np.array([0.0, 0.01, 0.0]), np.zeros(3), 0.1)
    arm.move_to(np.array([0.3, 0.0, 0.5]), 0.1)
    other = threading.Thread(target=arm.send_twist, args=(np.zeros(3), np.zeros(3), 0.1))
    other.start()
    other.join()
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    threads = {thread for thread, _ in FakeRobot.moves}
    assert threads == {FakeRobot.opened_on} and FakeRobot.opened_on != threading.get_ident()
    expected = os.SCHED_FIFO if realtime else os.SCHED_OTHER  # what franky's control threads inherit
    assert [policy for _, policy in FakeRobot.moves] == [expected] * 3


def test_a_closed_arm_refuses_motions_with_an_arm_error(arm_factory):
    arm = arm_factory(False)
    arm.close()
    with pytest.raises(franky_arm.ArmError, match="closed"):
        arm.send_twist(np.zeros(3), np.zeros(3), 0.1)
