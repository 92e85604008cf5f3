"""`diwa data from-bag` (recorded play bags -> a consolidated dataset, see diwa.data.rosbag) and
`diwa data inspect` (what a bag or a dataset holds, see diwa.data.inspect)."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from diwa.data.dataset import save_dataset
from diwa.data.inspect import format_report, inspect_path, write_preview
from diwa.data.rosbag import BagTopics, ConversionConfig, bags_to_dataset
from diwa.output_dirs import check_output_dir, dataset_dir, scratch_beside
from diwa.robot_contract import CONTROL_RATE_HZ


def add_from_bag(data_commands: argparse._SubParsersAction) -> None:
    """Add `from-bag` to the `diwa data` group (diwa.data.cli creates the group)."""
    parser = data_commands.add_parser(
        "from-bag",
        help="convert recorded rosbag2 (MCAP) play bags into a consolidated dataset",
        description="Convert rosbag2 MCAP bags written by the diwa_play recorder into one consolidated "
        "dataset: frames from SceneState, relative actions from the twist commands, absolute actions from the "
        "next frame, camera images by stamp, episodes split at pauses, annotations as frame windows. A bag "
        "whose recorder was killed converts up to where its storage file ends.",
    )
    parser.add_argument("bags", nargs="+", type=Path, metavar="BAG", help="bag directories (or .mcap files), in order")
    parser.add_argument("--out", required=True, type=Path, help="dataset directory to write")
    parser.add_argument("--rate", type=float, default=CONTROL_RATE_HZ, help="control rate of the recording (Hz)")
    parser.add_argument(
        "--command-timeout", type=float, default=0.2, help="the robot's command timeout (s): older ones moved nothing"
    )
    parser.add_argument("--max-gap", type=float, default=0.5, help="a longer pause between frames (s) ends an episode")
    parser.add_argument("--no-images", action="store_true", help="leave the camera streams out")
    parser.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="KEY=TOPIC",
        help="a stream recorded under another topic than the recorder's (a `ros2 bag record` of your own topics): "
        "KEY is scene_state, twist, annotations, resets, rgb_static or rgb_gripper; repeatable. SceneState frames "
        "are found on any topic when the bag has one such topic",
    )
    parser.add_argument(
        "--namespace",
        default="",
        help="the namespace the graph ran in (collect.launch.yaml's namespace:=...): the recorder's topics under it",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing dataset at --out (never a recording)"
    )
    parser.add_argument("--json", action="store_true", help="end with a JSON summary on the last line")
    parser.set_defaults(run=run_from_bag)


def run_from_bag(args: argparse.Namespace) -> int:
    out = check_output_dir(args.out, overwrite=args.overwrite, inputs=args.bags, replaceable=dataset_dir)
    renamed = dict(flag.split("=", 1) for flag in args.topic if "=" in flag)
    if len(renamed) != len(args.topic):
        raise ValueError(f"--topic takes KEY=TOPIC, got {args.topic}")
    config = ConversionConfig(
        rate_hz=args.rate,
        command_timeout_s=args.command_timeout,
        max_gap_s=args.max_gap,
        images=not args.no_images,
        topics=BagTopics().in_namespace(args.namespace).renamed(renamed),
    )
    with scratch_beside(out) as scratch:
        dataset = bags_to_dataset(args.bags, config, image_dir=scratch)
        save_dataset(dataset, args.out)
    bags = dataset.provenance["bags"]
    summary = {
        "out": str(args.out),
        "frames": len(dataset),
        "episodes": len(dataset.episodes),
        "annotations": len(dataset.annotations),
        "images": {key: list(arr.shape[1:]) for key, arr in dataset.images.items()},
        "truncated_files": [f for bag in bags for f in bag["truncated_files"]],
        "frames_dropped_without_images": sum(bag["frames_dropped_without_images"] for bag in bags),
        "annotations_dropped": sum(len(bag["annotations_dropped"]) for bag in bags),
    }
    print(
        f"wrote {summary['frames']} frames in {summary['episodes']} episodes with {summary['annotations']} "
        f"annotations to {args.out}"
    )
    if summary["truncated_files"]:
        print(f"note: files cut off by a killed recorder, converted up to the cut: {summary['truncated_files']}")
    if summary["frames_dropped_without_images"] or summary["annotations_dropped"]:
        print(
            f"note: dropped {summary['frames_dropped_without_images']} final frames without images and "
            f"{summary['annotations_dropped']} annotations past the recorded frames"
        )
    if args.json:
        print(json.dumps(summary))
    return 0


def add_inspect(data_commands: argparse._SubParsersAction) -> None:
    """Add `inspect` to the `diwa data` group."""
    parser = data_commands.add_parser(
        "inspect",
        help="what a recorded bag or a dataset holds: topics, rates, gaps, episodes, cameras, tasks",
        description="Report a rosbag2 (MCAP) recording or a consolidated dataset: per topic the messages, rate and "
        "longest gap; storage files cut off by a killed recorder; frames, episodes, duration, cameras, where the "
        "frames came from, annotated tasks, and the tasks the oracle sees completed where the scene state exists.",
    )
    parser.add_argument("path", type=Path, metavar="BAG|DATASET", help="a bag directory, an .mcap file or a dataset")
    parser.add_argument("--max-gap", type=float, default=0.5, help="a longer silence (s) counts as a pause")
    parser.add_argument("--video", type=Path, default=None, help="write a preview of the cameras (an animated GIF)")
    parser.add_argument("--every", type=int, default=3, help="preview every N-th frame (default %(default)s)")
    parser.add_argument("--max-frames", type=int, default=600, help="at most this many preview frames")
    parser.add_argument("--json", action="store_true", help="end with the report as JSON on the last line")
    parser.set_defaults(run=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    if args.video is not None and args.video.suffix.lower() != ".gif":
        raise ValueError(f"--video writes an animated GIF; name it *.gif, not {args.video.name}")
    if args.every < 1 or args.max_frames < 1:
        raise ValueError("--every and --max-frames must be at least 1")
    with tempfile.TemporaryDirectory(prefix="diwa-inspect-") as scratch:  # a bag's images, for the preview
        report, dataset = inspect_path(args.path, args.max_gap, image_dir=Path(scratch) if args.video else None)
        print(format_report(report))
        if args.video is not None:
            if dataset is None:
                raise ValueError(f"{args.path}: nothing to preview ({report['not_convertible']})")
            written = write_preview(dataset, args.video, args.every, args.max_frames)
            report["video"] = {"path": str(args.video), "frames": written}
            print(f"  preview: {written} frames -> {args.video}")
    if args.json:
        print(json.dumps(report))
    return 0
