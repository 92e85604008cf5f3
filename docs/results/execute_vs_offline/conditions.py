"""Why ExecuteSkill shows less of the gain than the offline evaluation (issue 27's demo): the paired
offline evaluation replayed with, one at a time, what the ROS path adds between the policy and the
simulator, on the same 100 seeded episodes, for the released BC and DiWA policies of a skill.

- `offline`: `diwa eval` as is (the action goes to the simulator).
- `filter`: the action becomes the policy node's twist (robot_contract.action_to_twist), passes the
  sim profile's safety filter at 30 Hz with the measured TCP, and comes back as the mock robot's
  action (twist_to_action): speed, acceleration and workspace limits.
- `gripper_late_K`: the gripper channel reaches the simulator K control periods late, as the mock
  robot's gripper goes through franka_gripper-shaped action goals while the arm streams on.
- `twist_late_K`: every arm command K periods late (the observation-to-motion latency of a
  real-time loop: the policy node, the arbiter and the robot each run their own 30 Hz timer).
- `realtime`: `filter`, `twist_late_1` and `gripper_late_2` together.

    python docs/results/execute_vs_offline/conditions.py SKILL EPISODES > docs/results/execute_vs_offline/SKILL.json
"""

from __future__ import annotations

import json
import sys
from collections import deque
from pathlib import Path

import numpy as np
from diwa.eval.agents import load_agent
from diwa.eval.harness import evaluate
from diwa.eval.stats import paired_gain_interval
from diwa.robot_contract import CONTROL_RATE_HZ, Twist, action_to_twist, twist_to_action

from diwa_robot.safety import CartesianCommand, SafetyFilter, load_safety_limits

SAFETY_FILE = Path(__file__).resolve().parents[3] / "src" / "diwa_bringup" / "config" / "safety.yaml"
EVAL_SEED = 1041  # the release's evaluation seed (set 41): offline must give its figures


class Through:
    """An agent whose actions reach the simulator the way `condition` says."""

    def __init__(self, agent, condition: str) -> None:
        self.agent, self.condition = agent, condition

    def reset(self, skill, obs, seed=None) -> None:
        self.agent.reset(skill, obs, seed)
        self.filter = SafetyFilter(load_safety_limits(SAFETY_FILE, "sim"))
        self.step = 0
        parts = {"realtime": ("filter", "twist_late_1", "gripper_late_2")}.get(self.condition, (self.condition,))
        self.filtered = "filter" in parts
        late = {part.split("_late_")[0]: int(part.split("_late_")[1]) for part in parts if "_late_" in part}
        self.gripper = deque([1.0] * late["gripper"]) if "gripper" in late else None
        self.arm = deque([np.zeros(6)] * late["twist"]) if "twist" in late else None

    def act(self, obs) -> np.ndarray:
        action = np.asarray(self.agent.act(obs), dtype=np.float64)
        self.step += 1
        if self.filtered:
            twist = action_to_twist(action)
            now = self.step / CONTROL_RATE_HZ
            out = self.filter.filter(CartesianCommand(twist.linear, twist.angular), obs["robot_obs"][:3], now)
            action = twist_to_action(Twist(out.linear, out.angular), bool(action[6] >= 0))
        if self.gripper is not None:
            self.gripper.append(action[6])
            action = np.concatenate([action[:6], [self.gripper.popleft()]])
        if self.arm is not None:
            self.arm.append(action[:6])
            action = np.concatenate([self.arm.popleft(), action[6:]])
        return action


def main(skill: str, episodes: int) -> None:
    conditions = ["offline", "filter", "gripper_late_2", "gripper_late_5", "twist_late_1", "twist_late_2", "realtime"]
    policies = {"bc": f"released:state/bc/{skill}", "diwa": f"released:state/{skill}"}
    outcomes = {}
    for name, spec in policies.items():
        for condition in conditions:
            agent = Through(load_agent(spec, skill, EVAL_SEED), condition)
            report = evaluate(agent, skill, episodes, EVAL_SEED, progress=False)
            outcomes[(name, condition)] = [int(r.success) for r in report.results]
            print(f"{name} {condition}: {report.success_rate:.0%}", file=sys.stderr)
    rows = []
    for condition in conditions:
        base, tuned = outcomes[("bc", condition)], outcomes[("diwa", condition)]
        gain, low, high = paired_gain_interval(base, tuned)
        rows.append(
            {
                "condition": condition,
                "bc": float(np.mean(base)),
                "diwa": float(np.mean(tuned)),
                "gain": gain,
                "gain_ci95": [low, high],
            }
        )
    print(json.dumps({"skill": skill, "episodes": episodes, "eval_seed": EVAL_SEED, "rows": rows}, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
