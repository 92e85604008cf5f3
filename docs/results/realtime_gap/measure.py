"""Where the real-time path loses the fine-tuned policy's gain (issue 27's demo): the released BC and
DiWA policies of a skill through ExecuteSkill on the mock robot (the deploy graph with robot:=sim:
mock robot, command arbiter, policy node), from the start states of the release's own offline
evaluation (episode i of `diwa eval --seed <its seed>`, set through the reset service), so that each
real-time episode pairs with its offline outcome. It also records the command stream the robot
received (times from the messages' stamps: one clock, one machine).

While the policy commands (its first to its last twist of an episode) it counts the simulator's
ticks (the mock robot's SceneState), the policy's commands and the arbiter's twists, and for each
tick how many arbiter twists arrived since the previous one: 0 means the robot applied the previous
twist again (a repeat), 2 or more means twists it never applied (skips).

    python docs/results/realtime_gap/measure.py SKILL EPISODES OUT.json     (after `source scripts/env.sh`)
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from diwa.eval.stats import paired_gain_interval
from diwa.released import PREFIX, resolve
from diwa.skills import EPISODE_STEP_LIMIT
from geometry_msgs.msg import TwistStamped

from diwa_bringup.demo import DemoClient
from diwa_msgs.action import ExecuteSkill
from diwa_msgs.msg import SceneState


def seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def now(node) -> float:
    return node.get_clock().now().nanoseconds * 1e-9


class Stream:
    """Stamps of the robot's ticks, the arbiter's twists and the policy's commands (seconds)."""

    def __init__(self, node) -> None:
        self.lock = threading.Lock()
        self.ticks: list[float] = []
        self.arbiter: list[tuple[float, np.ndarray]] = []
        self.policy: list[float] = []
        node.create_subscription(SceneState, "/mock_robot/scene_state", self.on_tick, 100)
        node.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", self.on_arbiter, 100)
        node.create_subscription(TwistStamped, "/diwa/commands/policy", self.on_policy, 100)

    def on_tick(self, msg) -> None:
        with self.lock:
            self.ticks.append(seconds(msg.header.stamp))

    def on_arbiter(self, msg) -> None:
        lin = msg.twist.linear
        with self.lock:
            self.arbiter.append((seconds(msg.header.stamp), np.array([lin.x, lin.y, lin.z])))

    def on_policy(self, msg) -> None:
        with self.lock:
            self.policy.append(seconds(msg.header.stamp))

    def window(self, start: float, end: float) -> dict:
        """Counts while the policy commanded (its first to its last command of the episode)."""
        with self.lock:
            policy = [t for t in self.policy if start <= t <= end]
            first, last = (policy[0], policy[-1]) if policy else (start, start)
            ticks = [t for t in self.ticks if first < t <= last]
            arrivals = [t for t, _ in self.arbiter if first <= t <= last]
        # Arbiter twists the robot found at each tick, since the previous one: 0 = it applied the
        # previous twist again, 2 or more = twists it never applied.
        per_tick = np.diff(np.searchsorted(arrivals, ticks)) if len(ticks) > 1 else np.zeros(0, int)
        return {
            "active_s": last - first,
            "ticks": len(ticks),
            "policy_commands": len(policy),
            "arbiter_twists": len(arrivals),
            "repeats": int((per_tick == 0).sum()),
            "skips": int(np.clip(per_tick - 1, 0, None).sum()),
            "policy_gaps_ms": np.round(np.diff(policy) * 1000, 1).tolist(),
            "arbiter_gaps_ms": np.round(np.diff(arrivals) * 1000, 1).tolist(),
            "tick_gaps_ms": np.round(np.diff(ticks) * 1000, 1).tolist(),
        }


def run(client: DemoClient, stream: Stream, skill: str, policy: str, episodes: int, seed: int) -> list[dict]:
    rows = []
    for episode in range(episodes):
        client.reset_to_evaluation_start(skill, seed, episode)
        start = now(client)
        outcome = client.run_goal(
            client.execute, ExecuteSkill.Goal(skill=skill, policy=policy, max_steps=EPISODE_STEP_LIMIT)
        )
        end = now(client)
        rows.append({"success": int(bool(outcome.result.success)), "steps": int(outcome.result.steps),
                     "message": outcome.result.message,
                     "seconds": end - start, **stream.window(start, end)})  # fmt: skip
    return rows


def summary(rows: list[dict]) -> dict:
    keys = ("active_s", "ticks", "policy_commands", "arbiter_twists", "repeats", "skips", "seconds", "steps")
    return {
        "success": float(np.mean([r["success"] for r in rows])),
        **{k: float(np.mean([r[k] for r in rows])) for k in keys},
    }


def main(skill: str, episodes: int, out: Path) -> None:
    graph = subprocess.Popen([sys.executable, "-m", "diwa.cli", "launch", "deploy"])
    rclpy.init()
    client = DemoClient()
    stream = Stream(client)
    try:
        if not client.execute.wait_for_server(timeout_sec=120) or not client.reset.wait_for_service(timeout_sec=120):
            raise RuntimeError("the deploy graph did not come up")
        time.sleep(3.0)  # the policy node's first observations
        offline = json.loads((resolve(f"{PREFIX}state/{skill}") / "evaluation.json").read_text())
        seed = int(offline["seed"])
        results = {}
        for name, policy in (("bc", f"{PREFIX}state/bc/{skill}"), ("diwa", f"{PREFIX}state/{skill}")):
            results[name] = run(client, stream, skill, policy, episodes, seed)
            print(name, json.dumps(summary(results[name])), flush=True)
        outcomes = {name: [r["success"] for r in rows] for name, rows in results.items()}
        _, low, high = paired_gain_interval(outcomes["bc"], outcomes["diwa"])
        report = {
            "skill": skill, "episodes": episodes, "seed": seed, "gain_ci95": [low, high],
            "offline_bc_success": float(np.mean(offline["base_outcomes"][:episodes])),
            "offline_diwa_success": float(np.mean(offline["outcomes"][:episodes])),
            **{f"{k}_summary": summary(v) for k, v in results.items()}, "episodes_detail": results,
        }  # fmt: skip
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=1) + "\n")
    finally:
        client.destroy_node()
        rclpy.try_shutdown()
        graph.send_signal(2)
        graph.wait(timeout=60)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]))
