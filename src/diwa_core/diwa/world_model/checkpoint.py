"""Crash-safe checkpoints: safetensors weights plus a JSON description written last.

A checkpoint `<dir>/<name>.json` names its weight file (and, for resumable training, its
optimizer/RNG state file) together with their SHA-256. Data files carry a tag (the training
step) in their name and are never overwritten in place; the JSON is replaced atomically
(temp file + os.replace) only after they are complete, and older files are deleted afterwards.
So an interruption at any moment leaves the previous or the new checkpoint, never a mixture,
and a truncated or swapped file is reported instead of loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from diwa.atomic import write_atomically, write_file_atomically
from diwa.data.dataset import Dataset, frames_by_source
from diwa.released import resolve


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, or does not fit what it is loaded into."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_provenance(dataset: Dataset, path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """What identifies the training data: its content hash (checked on resume), where it was, and how
    many of its frames came from which kind of recording (the robot time the model cost)."""
    return {
        "dataset_hash": dataset.content_hash(),
        "dataset_path": str(Path(path).resolve()) if path is not None else None,
        "frames": len(dataset),
        "frames_by_source": frames_by_source(dataset),
    }


def save_checkpoint(
    directory: str | os.PathLike[str],
    name: str,
    fmt: str,
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any],
    tag: str,
    train_state: dict[str, Any] | None = None,
) -> Path:
    """Write checkpoint `name` of format `fmt` into `directory`; returns the JSON path."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    weights = root / f"{name}-{tag}.safetensors"
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    write_file_atomically(weights, lambda tmp: save_file(tensors, str(tmp)))
    files = {"weights": {"file": weights.name, "sha256": file_sha256(weights)}}
    if train_state is not None:
        state_file = root / f"{name}-{tag}.state.pt"
        write_file_atomically(state_file, lambda tmp: torch.save(train_state, tmp))
        files["train_state"] = {"file": state_file.name, "sha256": file_sha256(state_file)}
    document = {"format": fmt, "version": 1, **meta, "files": files}
    json_path = root / f"{name}.json"
    write_atomically(json_path, json.dumps(document, indent=1))
    keep = {entry["file"] for entry in files.values()}
    for stale in root.glob(f"{name}-*"):
        if stale.name not in keep and (stale.name.endswith(".safetensors") or stale.name.endswith(".state.pt")):
            stale.unlink(missing_ok=True)
    return json_path


def resolve_checkpoint(path: str | os.PathLike[str], name: str) -> Path:
    """Accept a checkpoint directory, the JSON file itself, or a release name (diwa.released)."""
    candidate = resolve(path)
    if candidate.is_dir():
        candidate = candidate / f"{name}.json"
    if not candidate.is_file():
        raise FileNotFoundError(f"no checkpoint at {path} (expected {name}.json)")
    return candidate


def read_checkpoint_meta(path: str | os.PathLike[str], name: str, fmt: str) -> tuple[Path, dict[str, Any]]:
    json_path = resolve_checkpoint(path, name)
    try:
        document = json.loads(json_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{json_path} is corrupt: {err}") from err
    if not isinstance(document, dict) or document.get("format") != fmt or document.get("version") != 1:
        raise CheckpointError(f"{json_path} is not a {fmt} checkpoint (format {document.get('format')!r})")
    return json_path, document


def _checked_file(json_path: Path, document: dict[str, Any], role: str) -> Path:
    entry = document.get("files", {}).get(role)
    if entry is None:
        raise CheckpointError(f"{json_path} has no {role} file")
    path = json_path.parent / entry["file"]
    if not path.is_file():
        raise CheckpointError(f"{json_path} refers to missing file {path.name}")
    if file_sha256(path) != entry["sha256"]:
        raise CheckpointError(f"{path} does not match its checksum in {json_path.name}: truncated or replaced")
    return path


def load_weights(json_path: Path, document: dict[str, Any]) -> dict[str, torch.Tensor]:
    path = _checked_file(json_path, document, "weights")
    try:
        tensors = load_file(path)
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"{path} cannot be read: {err}") from err
    check_finite(tensors, path)
    return tensors


def check_finite(tensors: dict[str, torch.Tensor], source: Path) -> None:
    """Refuse weights or statistics holding NaN or infinity: a model loaded with them evaluates to NaN
    everywhere, silently."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{source}: tensor {name} holds NaN or infinite values")


def load_train_state(json_path: Path, document: dict[str, Any]) -> dict[str, Any]:
    path = _checked_file(json_path, document, "train_state")
    try:
        return torch.load(path, weights_only=True, map_location="cpu")  # written on any device
    except Exception as err:  # torch reports corrupt pickles with many exception types
        raise CheckpointError(f"{path} cannot be read: {err}") from err


def load_state_dict_strict(module: torch.nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """load_state_dict that reports missing, unexpected or mis-shaped tensors as CheckpointError."""
    expected = module.state_dict()
    problems = [f"missing {k}" for k in expected if k not in tensors]
    problems += [f"unexpected {k}" for k in tensors if k not in expected]
    problems += [
        f"{k}: checkpoint {tuple(tensors[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if problems:
        shown = "; ".join(problems[:5]) + (f"; ... ({len(problems)} problems)" if len(problems) > 5 else "")
        raise CheckpointError(f"{source} does not fit the model its config describes: {shown}")
    module.load_state_dict(tensors)
