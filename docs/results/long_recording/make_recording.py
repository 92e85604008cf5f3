"""A long play recording, as the collect graph's recorder would write it, made faster than real time.

Scripted play runs in the simulator with both cameras at 64x64; every tick becomes the messages the
mock robot, the command arbiter and the recorder exchange (SceneState, two Images, the JointState and
TCP pose, the twist that moved the arm, a reset Header at each new scene), written with the
recorder's own BagWriter into a rosbag2 MCAP bag split every --split-mb, plus the oracle's task
windows as Annotation messages at the end. The play itself is saved too (--truth) so that a
conversion can be checked against what was simulated.

    python docs/results/long_recording/make_recording.py BAG --minutes 60 --seed 0 --truth DATASET
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from diwa.data.bag_types import MessageTypes
from diwa.data.bag_writer import BagWriter, SplitPolicy, Topic
from diwa.data.dataset import Dataset, load_dataset, save_dataset
from diwa.data.recorder import EpisodeRecorder
from diwa.robot_contract import CONTROL_RATE_HZ, action_to_twist
from diwa.sim.config import SimConfig
from diwa.sim.env import PlayTableEnv
from diwa.sim.play import PlayConfig, generate_play
from tqdm import tqdm

SRC = Path(__file__).resolve().parents[3] / "src"  # src/<package>/msg is laid out like share/<package>/msg
PERIOD_NS = round(1e9 / CONTROL_RATE_HZ)
T0_NS = 1_790_000_000 * 10**9
CAMERAS = (("/camera/static/image_raw", "rgb_static"), ("/camera/gripper/image_raw", "rgb_gripper"))
JOINTS = [f"fr3_joint{i}" for i in range(1, 8)]
TOPICS = {  # config/recorder.yaml's topics, with the cameras
    "/mock_robot/scene_state": "diwa_msgs/msg/SceneState",
    "/camera/static/image_raw": "sensor_msgs/msg/Image",
    "/camera/gripper/image_raw": "sensor_msgs/msg/Image",
    "/joint_states": "sensor_msgs/msg/JointState",
    "/mock_robot/tcp_pose": "geometry_msgs/msg/PoseStamped",
    "/servo_node/delta_twist_cmds": "geometry_msgs/msg/TwistStamped",
    "/mock_robot/resets": "std_msgs/msg/Header",
    "/diwa/annotations": "diwa_msgs/msg/Annotation",
}


class Messages:
    """CDR-serialised messages of the recorded types, built with the bag's own type definitions."""

    def __init__(self) -> None:
        self.types = MessageTypes([SRC])
        self.definitions = {topic: self.types.definition(name) for topic, name in TOPICS.items()}

    def make(self, type_name: str, **fields: object) -> object:
        return self.types.store.types[type_name](**fields)

    def header(self, stamp_ns: int, frame: str = "world") -> object:
        stamp = self.make("builtin_interfaces/msg/Time", sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
        return self.make("std_msgs/msg/Header", stamp=stamp, frame_id=frame)

    def serialize(self, topic: str, msg: object) -> bytes:
        return bytes(self.types.store.serialize_cdr(msg, TOPICS[topic]))

    def vector(self, name: str, values: np.ndarray) -> object:
        return self.make(f"geometry_msgs/msg/{name}", **dict(zip("xyz", map(float, values), strict=False)))


def simulate(minutes: float, seed: int, scratch: Path) -> Dataset:
    frames = round(minutes * 60 * CONTROL_RATE_HZ)
    env = PlayTableEnv(SimConfig.paper_profile(seed=seed))
    recorder = EpisodeRecorder(frames, {"rgb_static": 64, "rgb_gripper": 64}, image_dir=scratch)
    dataset = generate_play(env, PlayConfig(frames=frames, seed=seed), recorder)
    env.close()
    return dataset


def write_bag(dataset: Dataset, bag: Path, split_mb: float) -> None:
    m = Messages()
    starts = {start for start, _ in dataset.episodes[1:]}
    with BagWriter(bag, SplitPolicy(max_file_size_bytes=int(split_mb * 2**20)), library="make_recording.py") as writer:
        for topic, definition in m.definitions.items():
            writer.add_topic(Topic(topic, definition))
        for k in tqdm(range(len(dataset)), desc="bag", unit="frame", mininterval=2):
            stamp = T0_NS + k * PERIOD_NS
            robot_obs = dataset.robot_obs[k].astype(np.float64)
            if k in starts:  # the scene was re-randomised just before this frame
                reset = m.header(stamp - 1_000_000)
                writer.write("/mock_robot/resets", stamp - 1_000_000, m.serialize("/mock_robot/resets", reset))
            scene = m.make(
                "diwa_msgs/msg/SceneState",
                header=m.header(stamp),
                robot_obs=robot_obs,
                scene_obs=dataset.scene_obs[k].astype(np.float64),
                scene_measured=True,
            )
            writer.write("/mock_robot/scene_state", stamp + 1_000_000, m.serialize("/mock_robot/scene_state", scene))
            joints = m.make(
                "sensor_msgs/msg/JointState",
                header=m.header(stamp),
                name=JOINTS,
                position=robot_obs[7:14].copy(),
                velocity=np.zeros(0),
                effort=np.zeros(0),
            )
            writer.write("/joint_states", stamp + 1_000_000, m.serialize("/joint_states", joints))
            quaternion = m.make("geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.0, w=1.0)
            pose = m.make(
                "geometry_msgs/msg/PoseStamped",
                header=m.header(stamp),
                pose=m.make(
                    "geometry_msgs/msg/Pose", position=m.vector("Point", robot_obs[:3]), orientation=quaternion
                ),
            )
            writer.write("/mock_robot/tcp_pose", stamp + 1_000_000, m.serialize("/mock_robot/tcp_pose", pose))
            for topic, key in CAMERAS:
                rgb = np.ascontiguousarray(dataset.images[key][k])
                image = m.make(
                    "sensor_msgs/msg/Image",
                    header=m.header(stamp, key),
                    height=rgb.shape[0],
                    width=rgb.shape[1],
                    encoding="rgb8",
                    is_bigendian=0,
                    step=rgb.shape[1] * 3,
                    data=rgb.reshape(-1),
                )
                writer.write(topic, stamp + 2_000_000, m.serialize(topic, image))
            twist = action_to_twist(dataset.rel_actions[k])
            command = m.make(
                "geometry_msgs/msg/TwistStamped",
                header=m.header(stamp + 5_000_000),
                twist=m.make(
                    "geometry_msgs/msg/Twist",
                    linear=m.vector("Vector3", twist.linear),
                    angular=m.vector("Vector3", twist.angular),
                ),
            )
            twist_topic = "/servo_node/delta_twist_cmds"
            writer.write(twist_topic, stamp + 5_000_000, m.serialize(twist_topic, command))
        end = T0_NS + len(dataset) * PERIOD_NS
        for a in dataset.annotations:
            note = m.make(
                "diwa_msgs/msg/Annotation", header=m.header(end), start_frame=a.start, end_frame=a.end, task=a.task
            )
            writer.write("/diwa/annotations", end, m.serialize("/diwa/annotations", note))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bag", type=Path)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--split-mb", type=float, default=1024.0, help="storage file size (recorder's max_file_size_mb)"
    )
    parser.add_argument(
        "--truth", type=Path, required=True, help="the simulated play as a dataset (written; if it exists, read)"
    )
    args = parser.parse_args()
    if args.bag.exists():
        raise SystemExit(f"{args.bag} exists; give a new path")
    started = time.perf_counter()
    if args.truth.exists():  # simulated before: write its bag
        dataset = load_dataset(args.truth)
        simulated = time.perf_counter()
        write_bag(dataset, args.bag, args.split_mb)
    else:
        scratch = Path(tempfile.mkdtemp(prefix=".make-recording-", dir=args.truth.parent))
        try:
            dataset = simulate(args.minutes, args.seed, scratch)
            simulated = time.perf_counter()
            save_dataset(dataset, args.truth)
            write_bag(dataset, args.bag, args.split_mb)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    written = time.perf_counter() - simulated
    print(f"{len(dataset)} frames: simulated in {simulated - started:.0f} s, bag written in {written:.0f} s")


if __name__ == "__main__":
    main()
