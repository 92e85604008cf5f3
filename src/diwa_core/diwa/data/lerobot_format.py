"""LeRobot datasets (format v3.0): what export (diwa.data.lerobot_export) and import
(diwa.data.lerobot_import) share: the layout, its path templates, and the features DiWA writes and reads.

The `lerobot` package itself cannot be installed beside this project's torch (0.4.4 requires
torch < 2.11), so the format is written and read here from its documentation with the libraries
LeRobot builds on: pyarrow for the Parquet tables, av (FFmpeg) for the MP4 videos, pandas for the
one table LeRobot writes through pandas. The layout facts used, and where they come from, are in
docs/reference.md §6.

A v3.0 dataset directory:

    meta/info.json                          schema (features with dtype, shape, names), fps, path templates
    meta/stats.json                         per feature: min, max, mean, std, count, q01..q99
    meta/tasks.parquet                      task text (pandas index) -> task_index
    meta/episodes/chunk-000/file-000.parquet  one row per episode: length, tasks, where its rows and video
                                            frames are (data/*, dataset_from_index/to_index, videos/<key>/*)
    data/chunk-000/file-000.parquet         one row per frame, many episodes per file
    videos/<key>/chunk-000/file-000.mp4     one file per camera holding many episodes one after another

What DiWA writes (export) and reads back (import):

    observation.state             robot_obs (15), names ROBOT_OBS_NAMES
    observation.environment_state scene_obs (24), names SCENE_OBS_NAMES; left out when the scene state is absent
    action                        rel_actions (7), names REL_ACTION_NAMES
    absolute_action               actions (7), names ABS_ACTION_NAMES (not under "action": LeRobot
                                  policies take every feature named action* as an output)
    observation.images.static     rgb_static, a video (its encoding in diwa.data.lerobot_export)
    observation.images.wrist      rgb_gripper
    task_index                    the CALVIN instruction of the annotation window holding the frame
                                  ("open the drawer"; where windows overlap, the one ending first), else "play"
    meta/diwa.json                (ours, ignored by LeRobot) the exact annotation windows and provenance
"""

from __future__ import annotations

from pathlib import Path

from diwa.data.calvin_layout import instruction
from diwa.sim.obs_layout import BLOCK_COLORS
from diwa.sim.oracle import TASKS

CODEBASE_VERSION = "v3.0"
INFO_PATH = Path("meta") / "info.json"
STATS_PATH = Path("meta") / "stats.json"
TASKS_PATH = Path("meta") / "tasks.parquet"
EPISODES_DIR = Path("meta") / "episodes"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
SIDECAR_PATH = Path("meta") / "diwa.json"
SIDECAR_FORMAT = "diwa-lerobot-export"

STATE_KEY = "observation.state"
ENV_STATE_KEY = "observation.environment_state"
ACTION_KEY = "action"
ABSOLUTE_ACTION_KEY = "absolute_action"
CAMERA_KEYS: dict[str, str] = {"rgb_static": "observation.images.static", "rgb_gripper": "observation.images.wrist"}
PLAY_TASK = "play"

ROBOT_OBS_NAMES: tuple[str, ...] = (
    *("tcp_x", "tcp_y", "tcp_z", "tcp_roll", "tcp_pitch", "tcp_yaw", "gripper_width"),
    *(f"joint_{i}" for i in range(1, 8)),
    "gripper_action",
)
SCENE_OBS_NAMES: tuple[str, ...] = (
    *("slider", "drawer", "button", "switch", "lightbulb", "led"),
    *(f"{color}_{axis}" for color in BLOCK_COLORS for axis in ("x", "y", "z", "roll", "pitch", "yaw")),
)
REL_ACTION_NAMES: tuple[str, ...] = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")
ABS_ACTION_NAMES: tuple[str, ...] = ("x", "y", "z", "roll", "pitch", "yaw", "gripper")


def _task_text(task: str) -> str:
    """LeRobot tasks are instructions in plain language; our task names become CALVIN's instruction."""
    return instruction(task) if task in TASKS else task
