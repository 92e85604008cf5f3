"""A simulated teleop session end to end: the collect graph (play:=joy, cameras:=true) runs on the mock
robot for --minutes while a scripted operator drives it through /joy, as a gamepad would (enable button
held most of the time, released now and then, sticks steering the TCP to a new target every 4 s, the
gripper toggled every 5-8 s); then the recording is inspected, converted, exported to LeRobot v3.0 and
read back with Hugging Face `datasets` (tables) and `av` (videos).

    python docs/results/teleop_session/session.py WORKDIR [--minutes 10] [--seed 0] [--out session.json]

The joy driver (the `joy` package) is not installed here; the operator publishes sensor_msgs/Joy on
/joy in its place, and everything else is the graph users launch (graphs/collect.yaml).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

RATE_HZ = 30.0
ENABLE, GRIPPER = 4, 0  # teleop.yaml: joy_enable_button, joy_gripper_button
TARGET_LOW, TARGET_HIGH = np.array([-0.20, -0.32, 0.40]), np.array([0.20, 0.0, 0.60])


def run_graph(bag: Path, frames: int, seed: int) -> int:
    """The collect graph without its joy driver (this script's operator stands in for it)."""
    from diwa.graph_runner import run_graph as run
    from diwa.node_graph import load_graph

    graph = load_graph("collect")
    graph = dataclasses.replace(graph, nodes=tuple(n for n in graph.nodes if n.executable != "joy_node"))
    return run(graph, {"play": "joy", "cameras": "true", "bag": str(bag), "frames": str(frames), "seed": str(seed)})


class Operator:
    """Steers the TCP towards random targets through the gamepad's axes (teleop.yaml's mapping:
    dx = -axis 0, dy = axis 1, dz = axis 4)."""

    def __init__(self, seed: int) -> None:
        import rclpy
        from geometry_msgs.msg import PoseStamped
        from sensor_msgs.msg import Joy

        rclpy.init()
        self.rclpy, self.Joy = rclpy, Joy
        self.node = rclpy.create_node("scripted_operator")
        self.rng = np.random.default_rng(seed)
        self.tcp: np.ndarray | None = None
        self.node.create_subscription(PoseStamped, "/mock_robot/tcp_pose", self.on_pose, 10)
        self.joy = self.node.create_publisher(Joy, "/joy", 10)
        self.counts = {"joy_messages": 0, "enabled_messages": 0, "gripper_presses": 0, "targets": 0}
        threading.Thread(target=lambda: rclpy.spin(self.node), daemon=True).start()

    def on_pose(self, msg) -> None:
        p = msg.pose.position
        self.tcp = np.array([p.x, p.y, p.z])

    def drive(self, until: subprocess.Popen) -> None:
        start = time.monotonic()
        target, next_target, next_gripper, release_until, press_until = None, 0.0, 5.0, -1.0, -1.0
        while until.poll() is None:
            now = time.monotonic() - start
            axes, buttons = [0.0] * 8, [0] * 12
            if self.tcp is not None:
                if now >= next_target:
                    target = self.rng.uniform(TARGET_LOW, TARGET_HIGH)
                    next_target = now + 4.0
                    self.counts["targets"] += 1
                    if self.rng.random() < 0.2:
                        release_until = now + 1.0  # the operator lets go for a second
                if now >= next_gripper:
                    press_until, next_gripper = now + 0.2, now + self.rng.uniform(5.0, 8.0)
                    self.counts["gripper_presses"] += 1
                enabled = now >= release_until
                command = np.clip((target - self.tcp) / 0.05, -1.0, 1.0) * 0.9
                axes[0], axes[1], axes[4] = -command[0], command[1], command[2]
                buttons[ENABLE] = int(enabled)
                buttons[GRIPPER] = int(now < press_until and enabled)
                self.counts["enabled_messages"] += int(enabled)
            self.joy.publish(self.Joy(axes=axes, buttons=buttons))
            self.counts["joy_messages"] += 1
            time.sleep(1.0 / RATE_HZ)

    def close(self) -> None:
        self.node.destroy_node()
        self.rclpy.try_shutdown()


def diwa(*args: str) -> tuple[dict, float]:
    """Run a `diwa` command ending with a JSON line; (that JSON, seconds)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "diwa", *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1]), time.perf_counter() - started


def read_back(dataset_dir: Path, lerobot_dir: Path, cache: Path) -> dict:
    """The exported LeRobot dataset read by the independent readers, against the dataset."""
    import av
    from datasets import load_dataset as hf_load
    from diwa.data.dataset import load_dataset

    dataset = load_dataset(dataset_dir)
    files = sorted(str(p) for p in (lerobot_dir / "data").rglob("*.parquet"))
    table = hf_load("parquet", data_files=files, split="train", cache_dir=str(cache)).with_format("numpy")
    result: dict = {
        "rows": int(table.num_rows),
        "frames": len(dataset),
        "state_equal": bool(np.array_equal(np.stack(table["observation.state"]), dataset.robot_obs)),
        "action_equal": bool(np.array_equal(np.stack(table["action"]), dataset.rel_actions)),
        "episodes": len(np.unique(table["episode_index"])),
        "videos": {},
    }
    info = json.loads((lerobot_dir / "meta/info.json").read_text())
    for key, feature in info["features"].items():
        if feature.get("dtype") != "video":
            continue
        image_key = "rgb_static" if "static" in key else "rgb_gripper"
        decoded = []
        for path in sorted((lerobot_dir / "videos" / key).rglob("*.mp4")):
            with av.open(str(path)) as container:
                decoded += [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        frames = np.stack(decoded)
        error = (
            float(np.abs(frames.astype(np.float32) - dataset.images[image_key]).mean())
            if len(frames) == len(dataset)
            else None
        )
        result["videos"][key] = {"frames": len(frames), "mean_abs_error": error}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("session.json"))
    parser.add_argument("--graph", type=Path, help=argparse.SUPPRESS)  # internal: run the graph into this bag
    args = parser.parse_args()
    frames = round(args.minutes * 60 * RATE_HZ)
    if args.graph is not None:
        raise SystemExit(run_graph(args.graph, frames, args.seed))

    args.workdir.mkdir(parents=True, exist_ok=False)
    bag = args.workdir / "bag"
    started = time.perf_counter()
    command = [sys.executable, __file__, str(args.workdir), "--minutes", str(args.minutes), "--seed", str(args.seed)]
    graph = subprocess.Popen(
        [*command, "--graph", str(bag)], stdout=(args.workdir / "graph.log").open("w"), stderr=subprocess.STDOUT
    )
    operator = Operator(args.seed)
    try:
        operator.drive(until=graph)
    finally:
        operator.close()
    if graph.wait() != 0:
        raise SystemExit(f"the collect graph failed; see {args.workdir / 'graph.log'}")
    recorded = time.perf_counter() - started

    inspected, inspect_s = diwa("data", "inspect", str(bag), "--video", str(args.workdir / "preview.gif"), "--json")
    converted, convert_s = diwa("data", "from-bag", str(bag), "--out", str(args.workdir / "dataset"), "--json")
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "diwa",
            "data",
            "export-lerobot",
            str(args.workdir / "dataset"),
            "--out",
            str(args.workdir / "lerobot"),
            "--quiet",
        ],
        check=True,
    )
    export_s = time.perf_counter() - started
    report = {
        "minutes": args.minutes,
        "seed": args.seed,
        "operator": operator.counts,
        "seconds": {
            "session": round(recorded),
            "inspect": round(inspect_s, 1),
            "from_bag": round(convert_s, 1),
            "export_lerobot": round(export_s, 1),
        },
        "bag": {
            "files": inspected["storage_files"],
            "mb": round(sum(p.stat().st_size for p in bag.glob("*.mcap")) / 2**20),
            "topics": {t: {"messages": v["messages"], "rate_hz": v["rate_hz"]} for t, v in inspected["topics"].items()},
        },
        "inspect": inspected["dataset"],
        "from_bag": converted,
        "read_back": read_back(args.workdir / "dataset", args.workdir / "lerobot", args.workdir / "hf_cache"),
    }
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
