"""`diwa data from-bag`: recorded play bags -> a consolidated dataset (see diwa.data.rosbag)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from diwa.data.dataset import save_dataset
from diwa.data.rosbag import ConversionConfig, bags_to_dataset
from diwa.output_dirs import check_output_dir, dataset_dir
from diwa.robot_contract import CONTROL_RATE_HZ


def add_from_bag(data_commands: argparse._SubParsersAction) -> None:
    """Add `from-bag` to the `diwa data` group (diwa.data.commands creates the group)."""
    parser = data_commands.add_parser(
        "from-bag",
        help="convert recorded rosbag2 (MCAP) play bags into a consolidated dataset",
        description="Convert rosbag2 MCAP bags written by the diwa_world_model recorder into one consolidated "
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
        "--overwrite", action="store_true", help="replace an existing dataset at --out (never a recording)"
    )
    parser.add_argument("--json", action="store_true", help="end with a JSON summary on the last line")
    parser.set_defaults(run=run_from_bag)


def run_from_bag(args: argparse.Namespace) -> int:
    check_output_dir(args.out, overwrite=args.overwrite, inputs=args.bags, replaceable=dataset_dir)
    config = ConversionConfig(
        rate_hz=args.rate, command_timeout_s=args.command_timeout, max_gap_s=args.max_gap, images=not args.no_images
    )
    dataset = bags_to_dataset(args.bags, config)
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
