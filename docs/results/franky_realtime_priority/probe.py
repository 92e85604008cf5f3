"""Which scheduling policy the threads of a process that opens a franky arm run under: after
`franky.Robot()` and during a streamed twist, with the calling thread's policy restored after
Robot() (`restore`, what FrankyArm(realtime=False) does now) or left as franky set it (`keep`).

    source scripts/env.sh && python docs/results/franky_realtime_priority/probe.py keep|restore
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import franky

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.franky_sim_process import franky_sim


def threads(tag: str) -> None:
    table = subprocess.run(
        ["ps", "-L", "-o", "tid=,cls=,rtprio=", "-p", str(os.getpid())], capture_output=True, text=True
    )
    print(f"{tag}: " + "; ".join(" ".join(line.split()) for line in table.stdout.splitlines()), flush=True)


def main() -> None:
    mode = sys.argv[1]
    with franky_sim() as address:
        threads("before Robot()")
        policy, priority = os.sched_getscheduler(0), os.sched_getparam(0)
        robot = franky.Robot(address, realtime_config=franky.RealtimeConfig.Ignore)
        robot.relative_dynamics_factor = 0.2
        threads("after Robot()")
        if mode == "restore":
            os.sched_setscheduler(0, policy, priority)
        motion = franky.CartesianVelocityMotion(
            franky.Twist([0.0, 0.0, -0.01], [0.0, 0.0, 0.0]), duration=franky.Duration(2000)
        )
        robot.move(motion, asynchronous=True)
        time.sleep(0.5)
        threads("during a motion")
        robot.join_motion(timeout=10)


if __name__ == "__main__":
    main()
