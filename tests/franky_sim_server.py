"""franky-sim's MuJoCo FR3 serving the libfranka protocol on a loopback address, for the tests:
prints the address on its first line, then runs the 1 kHz loop until killed.

    python tests/franky_sim_server.py
"""

from __future__ import annotations

from franky_sim import SimulationServer
from franky_sim.mujoco_simulator import MujocoSimulator


def main() -> None:
    with MujocoSimulator(enable_visualization=False) as sim:
        robot = sim.add_robot()
        with SimulationServer(sim) as server:
            print(robot.hostname, flush=True)
            server.run_forever()


if __name__ == "__main__":
    main()
