"""Policy checkpoints: a directory with the weights and everything needed to use them.

    weights-<sha256[:16]>.safetensors
                          tensors "base.*" and, after fine-tuning, "finetuned.*" (safetensors
                          cannot execute code on load, unlike pickle)
    policy.json           format/version, skill, config, encoder spec, normalisation,
                          finetuned_steps, the weights' SHA-256, provenance (dataset hash, seed,
                          library versions) and a free-form training summary

The pair is replaced as a whole: the new weights go to a file named by their own checksum (the old
weights file stays), then policy.json, naming that file and its checksum, is renamed over the old
one, and only then are weights no policy.json names removed. A crash (kill -9 included) at any point
leaves the old checkpoint or the new one loadable, never a mix; temporary files of an interrupted
save are removed by the next one.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from diwa import __version__
from diwa.atomic import write_atomically
from diwa.policy.config import PolicyConfig
from diwa.policy.encoder import build_encoder
from diwa.policy.network import EpsilonMLP
from diwa.policy.normalizer import ActionNormalizer, FeatureNormalizer
from diwa.policy.policy import DiffusionPolicy, build_network
from diwa.released import resolve

FORMAT = "diwa-diffusion-policy"
VERSION = 1
META_FILE = "policy.json"


def library_versions() -> dict[str, str]:
    """What a run's numbers depend on besides its inputs and seeds. The CPU's vector instruction set
    is among them: torch picks its kernels by it, and the same seeds on another CPU give other float
    rounding and, after 20 PPO iterations, other weights (docs/results/release_reproduction)."""
    return {
        "diwa": __version__,
        "torch": torch.__version__,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def save_policy(
    policy: DiffusionPolicy, directory: str | os.PathLike[str], training: dict[str, Any] | None = None
) -> Path:
    """Write `policy` into `directory` (created if needed); returns the path of policy.json."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    tensors = {f"base.{k}": v.detach().cpu().contiguous() for k, v in policy.base.state_dict().items()}
    if policy.finetuned is not None:
        tensors.update(
            {f"finetuned.{k}": v.detach().cpu().contiguous() for k, v in policy.finetuned.state_dict().items()}
        )
    weights = save_safetensors(tensors)
    digest = hashlib.sha256(weights).hexdigest()
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "skill": policy.skill,
        "config": policy.config.to_dict(),
        "encoder": policy.encoder_spec,
        "normalization": {
            "features": policy.feature_normalizer.to_dict(),
            "actions": policy.action_normalizer.to_dict(),
        },
        "finetuned_steps": policy.finetuned_steps,
        "weights": {"file": f"weights-{digest[:16]}.safetensors", "sha256": digest},
        "provenance": {**policy.provenance, "versions": library_versions()},
        "training": training or {},
    }
    weights_path = root / meta["weights"]["file"]
    if not weights_path.is_file():
        write_atomically(weights_path, weights)
    meta_path = root / META_FILE
    write_atomically(meta_path, json.dumps(meta, indent=1))
    for stale in [*root.glob("weights*.safetensors"), *root.glob(".weights*"), *root.glob(f".{META_FILE}.*")]:
        if stale.name != weights_path.name:
            stale.unlink(missing_ok=True)
    return meta_path


def weights_path(directory: str | os.PathLike[str]) -> Path:
    """The weights file the checkpoint in `directory` names."""
    root, meta = _read_meta(Path(directory))
    return root / meta["weights"]["file"]


def _read_meta(path: Path) -> tuple[Path, dict[str, Any]]:
    path = resolve(path)  # a release name (diwa.released) or a path
    meta_path = path / META_FILE if path.is_dir() else path
    if not meta_path.is_file():
        raise FileNotFoundError(f"no policy checkpoint at {path} ({meta_path.name} not found)")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"policy checkpoint {meta_path} is corrupt: not valid JSON ({err})") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{meta_path} is not a diwa diffusion-policy checkpoint")
    if meta.get("version") != VERSION:
        raise ValueError(f"{meta_path}: unsupported checkpoint version {meta.get('version')} (expected {VERSION})")
    return meta_path.parent, meta


def _read_weights(root: Path, meta: dict[str, Any]) -> dict[str, torch.Tensor]:
    weights_path = root / meta["weights"]["file"]
    if not weights_path.is_file():
        raise FileNotFoundError(f"policy checkpoint {root} is missing its weights file {weights_path.name}")
    data = weights_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != meta["weights"]["sha256"]:
        raise ValueError(
            f"{weights_path} does not match the checksum in {META_FILE}: "
            "the file is corrupt or belongs to another checkpoint"
        )
    try:
        tensors = load_safetensors(data)
    except SafetensorError as err:
        raise ValueError(f"{weights_path} is not a readable safetensors file ({err})") from err
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{weights_path}: tensor {name} holds NaN or infinite values")
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ValueError(f"{weights_path}: tensor {name} contains NaN or infinite values")
    return tensors


def _load_network(
    tensors: dict[str, torch.Tensor], prefix: str, config: PolicyConfig, cond_dim: int, where: Path
) -> EpsilonMLP:
    network = build_network(config, cond_dim)
    state = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
    expected = network.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        details = "; ".join(
            f"{label}: {names[:4]}{' ...' if len(names) > 4 else ''}"
            for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
            if names
        )
        raise ValueError(
            f"weights in {where} do not fit the network described by its config "
            f"(widths {list(config.network.widths)}, {cond_dim}-d features): {details}"
        )
    network.load_state_dict(state)
    return network.eval()


def load_policy(path: str | os.PathLike[str]) -> DiffusionPolicy:
    """Load a checkpoint directory (or its policy.json). Raises FileNotFoundError for missing
    files, ValueError for corrupt or inconsistent ones, UnknownSkillError for an unknown skill."""
    root, meta = _read_meta(Path(path))
    try:
        config = PolicyConfig.from_dict(meta["config"])
        encoder_spec = build_encoder(meta["encoder"]).spec()
        feature_normalizer = FeatureNormalizer.from_dict(meta["normalization"]["features"])
        action_normalizer = ActionNormalizer.from_dict(meta["normalization"]["actions"])
        finetuned_steps = int(meta["finetuned_steps"])
        skill = meta["skill"]
        tensors = _read_weights(root, meta)
    except (KeyError, TypeError) as err:
        raise ValueError(f"policy checkpoint {root} is incomplete: missing or malformed entry {err}") from err
    known_prefixes = ("base.", "finetuned.") if finetuned_steps > 0 else ("base.",)
    stray = sorted(k for k in tensors if not k.startswith(known_prefixes))
    if stray:
        raise ValueError(f"weights in {root} hold tensors its {META_FILE} does not account for: {stray[:4]}")
    cond_dim = int(encoder_spec["feature_dim"])
    base = _load_network(tensors, "base.", config, cond_dim, root)
    finetuned = _load_network(tensors, "finetuned.", config, cond_dim, root) if finetuned_steps > 0 else None
    return DiffusionPolicy(
        config,
        skill,
        encoder_spec,
        feature_normalizer,
        action_normalizer,
        base,
        finetuned,
        finetuned_steps,
        {k: v for k, v in meta.get("provenance", {}).items() if k != "versions"},
    )
