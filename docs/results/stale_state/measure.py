"""How long twists keep reaching the robot after its state stream freezes (issue 24), on the live graph
at deployed rates: mock robot, command arbiter and policy node at 30 Hz, the sim safety profile, the
policy node's default observation age limit. Each trial starts the scripted open_drawer expert,
stops the mock robot's process (SIGSTOP) while the arm moves, and records every twist on the robot's
topic, by its sender's stamp, until the goal ends.

    python docs/results/stale_state/measure.py TRIALS > docs/results/stale_state/stale_state.json

(after `source scripts/env.sh`, from the repository root). Before the fix the node kept sending twists
of up to 0.44 m/s for 250 ms after the freeze.
"""

from __future__ import annotations

import json
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from rclpy.action import ActionClient  # noqa: E402

from diwa_msgs.action import ExecuteSkill  # noqa: E402
from diwa_msgs.srv import ResetSim  # noqa: E402
from diwa_robot.safety import SafetyFilter, load_safety_limits  # noqa: E402
from tests.ros_graph import (  # noqa: E402
    RosTestClient,
    node_processes,
    unique_domain_id,
    wait_for,
    wait_until_the_policy_node_sees_the_robot,
)
from tests.test_execute_skill import Robot  # noqa: E402

SAFETY_FILE = ROOT / "src" / "diwa_bringup" / "config" / "safety.yaml"


def trial(client: RosTestClient, action: ActionClient, robot: Robot, mock_robot, seed: int) -> dict:
    reset = client.node.create_client(ResetSim, "/mock_robot/reset")
    assert reset.wait_for_service(timeout_sec=20)
    future = reset.call_async(ResetSim.Request(seed=seed, skill="open_drawer"))
    wait_for(future.done, 20, "reset")
    time.sleep(1.0)
    sent = action.send_goal_async(ExecuteSkill.Goal(skill="open_drawer", policy="scripted"))
    wait_for(sent.done, 20, "goal response")
    moving = lambda: any(np.abs(t[:3]).max() > 0.02 for _, t in robot.twists_since(time.time() - 0.2))  # noqa: E731
    wait_for(moving, 20, "motion")
    mock_robot.send_signal(signal.SIGSTOP)
    frozen = time.time()
    try:
        result = sent.result().get_result_async()
        wait_for(result.done, 20, "the goal's end")
    finally:
        mock_robot.send_signal(signal.SIGCONT)
    after = [(stamp - frozen, float(np.linalg.norm(twist[:3]))) for stamp, twist in robot.twists_since(frozen)]
    nonzero = [(t, speed) for t, speed in after if speed > 0]
    return {
        "seed": seed,
        "ended": result.result().result.message,
        "last_nonzero_twist_after_freeze_s": round(max((t for t, _ in nonzero), default=0.0), 3),
        "max_speed_after_freeze_m_s": round(max((s for _, s in nonzero), default=0.0), 3),
    }


def main(trials: int) -> None:
    limits = load_safety_limits(SAFETY_FILE, "sim")
    bound = limits.max_observation_age + SafetyFilter(limits).stop_periods() * limits.control_period
    specs = [
        ("diwa_calvin_bridge", "mock_robot", {"seed": 3}),
        ("diwa_robot", "command_arbiter", {}),
        ("diwa_policy_node", "policy_node", {"backend": "sim"}),
    ]
    domain = unique_domain_id()
    rows = []
    with tempfile.TemporaryDirectory() as logs, node_processes(specs, Path(logs), domain) as processes:
        client = RosTestClient(domain)
        try:
            action = ActionClient(client.node, ExecuteSkill, "/execute_skill")
            robot = Robot(client)
            assert action.wait_for_server(timeout_sec=60)
            wait_until_the_policy_node_sees_the_robot(action)
            for seed in range(trials):
                rows.append(trial(client, action, robot, processes[0].process, 20 + seed))
                print(json.dumps(rows[-1]), file=sys.stderr)
        finally:
            client.close()
    worst = max(r["last_nonzero_twist_after_freeze_s"] for r in rows)
    print(
        json.dumps(
            {
                "rates_hz": 30,
                "max_observation_age_s": limits.max_observation_age,
                "bound_s": round(bound, 3),
                "worst_last_nonzero_twist_s": worst,
                "trials": rows,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
