"""Where do a skill's policies go in the simulator? Per episode of the paired evaluation's start
states: success, steps, the switch's start and largest position, and the TCP's largest x, y, z.

    python docs/results/lamp_regression/sim_trajectories.py SKILL EVAL_SEED EPISODES POLICY [POLICY ...]
"""

from __future__ import annotations

import sys

import numpy as np
from diwa.eval.agents import load_agent
from diwa.eval.harness import DEFAULT_MAX_STEPS
from diwa.sim.make import make_env
from diwa.sim.obs_layout import SWITCH, TCP_POS
from diwa.sim.start_states import sample_start_state, skill_seed


def main() -> None:
    skill, seed, episodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    env = make_env()
    for name in sys.argv[4:]:
        agent = load_agent(name, skill, seed)
        print(f"{name}")
        print("  episode success steps switch_start switch_max tcp_max_xyz")
        successes = 0
        for index in range(episodes):
            robot_obs, scene_obs = sample_start_state(skill, skill_seed(seed, skill, index))
            obs, _ = env.reset(options={"robot_obs": robot_obs, "scene_obs": scene_obs})
            agent.reset(skill, obs)
            switch_start = switch_max = float(obs["scene_obs"][SWITCH])
            tcp_max = np.full(3, -np.inf)
            success, steps = False, DEFAULT_MAX_STEPS
            for step in range(1, DEFAULT_MAX_STEPS + 1):
                obs, _, _, _, info = env.step(agent.act(obs))
                switch_max = max(switch_max, float(obs["scene_obs"][SWITCH]))
                tcp_max = np.maximum(tcp_max, obs["robot_obs"][TCP_POS])
                if skill in info["completed_tasks"]:
                    success, steps = True, step
                    break
            successes += success
            row = f"{index:7d} {int(success):7d} {steps:5d} {switch_start:12.3f} {switch_max:10.3f}"
            print(f"  {row} {np.round(tcp_max, 3)}")
        print(f"  success {successes}/{episodes}")


if __name__ == "__main__":
    main()
