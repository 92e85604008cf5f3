"""Released models: the checkpoints of one full pipeline run per observation route, shipped with the
package so that a new user starts from models whose gains were measured, not from a training run.

A release lives in `diwa/models/<route>/` and is addressed by name wherever a checkpoint path is
accepted (command line, goals, node parameters):

    released:state/open_drawer           the fine-tuned policy (evaluation.json, verdict.json, latency.json)
    released:state/bc/open_drawer        the behaviour-cloned policy it started from
    released:state/world_model           the world model
    released:state/reward                the reward classifiers (one directory for the 8 skills)
    released:state/demos/open_drawer     the demonstrations the BC policy was cloned from, where
                                         fine-tuning's imagined episodes start
    released:state/guard                 the verdict's model-error guard, fitted on the world
                                         model's play (which is not shipped)
    released:state/judge/world_model     the verdict's independent world model (another seed
    released:state/judge/reward          set's play and seeds) and its reward classifiers

A fine-tuning from the released world model is judged with the release's guard and judge
(`verdict_models`), so its verdict needs nothing the release does not hold.

`release.json` records where the models came from (the run, its seeds, the command) and what they
measured (per skill: BC and fine-tuned success on the paired evaluation, the gain's 95 % interval,
the verdict). `diwa models` lists it; `make_release` writes one from a `scripts/seed_set.sh` run.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

from diwa.atomic import write_atomically, write_directory_atomically
from diwa.skills import SKILLS

PREFIX = "released:"
RELEASE_FILE = "release.json"
ROUTES = ("state", "camera")
FINETUNED_FILES = ("policy.json", "evaluation.json", "verdict.json", "latency.json")
WORLD_MODEL_FILES = ("world_model.json", "world_model-step*.safetensors")
REWARD_FILES = ("reward_*.json", "reward_*-weights.safetensors")


def models_root() -> Path:
    return Path(str(resources.files("diwa").joinpath("models")))


def is_released(spec: str | Path) -> bool:
    return str(spec).startswith(PREFIX)


def resolve(spec: str | Path) -> Path:
    """The path behind a checkpoint spec: `released:<route>/<name>` or a path, returned as is.
    An unknown release name raises ValueError listing what is released."""
    text = str(spec)
    if not is_released(text):
        return Path(spec)
    name = text[len(PREFIX) :].strip("/")
    route, _, rest = name.partition("/")
    root = models_root() / route
    if route not in ROUTES or not (root / RELEASE_FILE).is_file():
        available = [r for r in ROUTES if (models_root() / r / RELEASE_FILE).is_file()]
        raise ValueError(f"no released route {route!r} in {text!r}; released: {', '.join(available) or 'none'}")
    path = root / rest  # `released:state` alone: the route's directory, fine-tuned policies by skill
    if not path.exists():
        raise ValueError(f"{text!r} is not a released model; try one of: {', '.join(released_names(route))}")
    return path


def released_names(route: str) -> list[str]:
    root = models_root() / route
    names = ["world_model", "reward"]
    names += [n for n in ("guard", "judge/world_model", "judge/reward") if (root / n).is_dir()]
    names += [f"bc/{s}" for s in SKILLS if (root / "bc" / s).is_dir()]
    names += [s for s in SKILLS if (root / s).is_dir()]
    return [f"{PREFIX}{route}/{n}" for n in names]


def list_releases() -> list[dict[str, Any]]:
    """The release.json of every shipped route."""
    out = []
    for route in ROUTES:
        path = models_root() / route / RELEASE_FILE
        if path.is_file():
            out.append(json.loads(path.read_text()))
    return out


def verdict_models(world_model: str | Path) -> tuple[str | None, tuple[str, str] | None]:
    """For a world model given by release name or path: the release name of the verdict's guard,
    and of its independent world model and reward classifiers, where `world_model` is a release's
    world model that ships them; (None, None) for any other model."""
    try:
        path = resolve(world_model).resolve()
    except ValueError:
        return None, None
    for route in ROUTES:
        root = models_root() / route
        if (root / RELEASE_FILE).is_file() and path == (root / "world_model").resolve():
            guard = f"{PREFIX}{route}/guard" if (root / "guard").is_dir() else None
            judged = (root / "judge" / "world_model").is_dir() and (root / "judge" / "reward").is_dir()
            judge = (f"{PREFIX}{route}/judge/world_model", f"{PREFIX}{route}/judge/reward") if judged else None
            return guard, judge
    return None, None


def make_release(run: Path, variant: str, route: str, destination: Path, command: str) -> Path:
    """Copy a seed-set run (scripts/seed_set.sh OUT: wm/, rewards/, bc/policies/<skill>/,
    diwa_<variant>/<skill>/, and where it has them verdict_guard/ and judge/) into a release at
    `destination`, written beside it and swapped in whole. Checkpoint references inside the copies
    become release names; the measurements become release.json. Training states and TensorBoard
    logs are left out."""
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; expected one of {ROUTES}")
    runs = run / f"diwa_{variant}"
    missing = [s for s in SKILLS if not (runs / s / "evaluation.json").is_file()]
    if missing:
        raise ValueError(f"{runs} has no evaluated fine-tuning of {missing}")

    def fill(staging: Path) -> None:
        _copy_checkpoint(run / "wm", staging / "world_model", WORLD_MODEL_FILES)
        _copy_checkpoint(run / "rewards", staging / "reward", REWARD_FILES)
        guard = run / "verdict_guard" if (run / "verdict_guard" / "guard.json").is_file() else None
        judged = (run / "judge" / "wm" / "world_model.json").is_file()
        _copy_verdict_models(
            staging, route, guard, (run / "judge" / "wm", run / "judge" / "rewards") if judged else None
        )
        skills = {}
        for skill in SKILLS:
            bc = run / "bc" / "policies" / skill
            demos = json.loads((bc / "policy.json").read_text()).get("provenance", {}).get("dataset")
            if demos is None or not Path(demos).is_dir():
                raise ValueError(f"{bc} does not name its demonstrations, where fine-tuning starts: got {demos}")
            shutil.copytree(demos, staging / "demos" / skill)
            _copy_policy(bc, staging / "bc" / skill, route, ())
            _copy_policy(runs / skill, staging / skill, route, FINETUNED_FILES[1:])
            skills[skill] = _measurements(runs / skill)
        seeds = _seeds(run / "seeds.txt")
        document = {
            "route": route,
            "source_run": str(run.resolve()),
            "variant": variant,
            "seeds": seeds,
            "command": command,
            "skills": skills,
        }
        write_atomically(staging / RELEASE_FILE, json.dumps(document, indent=1) + "\n")

    return write_directory_atomically(destination, fill)


def add_verdict_models(route: str, guard: Path, judge: tuple[Path, Path], seeds: dict[str, str]) -> Path:
    """The shipped release of `route` again, swapped in whole, with the verdict's guard and judge
    (world model, reward classifiers) copied in and their `seeds` added to release.json: for a
    release made before they were shipped, whose run is gone. Its verdict.json files are the
    caller's to renew (`diwa verdict` on each skill), then `refresh_measurements`."""
    root = models_root() / route
    if not (root / RELEASE_FILE).is_file():
        raise ValueError(f"no released route {route!r} to add to")
    shipped = _weights_sha256(root / "world_model" / "world_model.json")
    if json.loads((guard / "guard.json").read_text())["world_model"]["weights_sha256"] != shipped:
        raise ValueError(f"{guard} was fitted on another world model than the release's")
    if _weights_sha256(judge[0] / "world_model.json") == shipped:
        raise ValueError(f"{judge[0]} is the released world model itself, not an independent judge")

    def fill(staging: Path) -> None:
        shutil.copytree(root, staging, dirs_exist_ok=True)
        for name in ("guard", "judge"):
            shutil.rmtree(staging / name, ignore_errors=True)
        _copy_verdict_models(staging, route, guard, judge)
        document = json.loads((staging / RELEASE_FILE).read_text())
        document["seeds"] = {**(document.get("seeds") or {}), **seeds}
        write_atomically(staging / RELEASE_FILE, json.dumps(document, indent=1) + "\n")

    return write_directory_atomically(root, fill)


def refresh_measurements(route: str) -> Path:
    """release.json's per-skill figures read again from the release's own evaluation.json and
    verdict.json files (after their verdicts were renewed)."""
    path = models_root() / route / RELEASE_FILE
    document = json.loads(path.read_text())
    document["skills"] = {skill: _measurements(path.parent / skill) for skill in SKILLS}
    write_atomically(path, json.dumps(document, indent=1) + "\n")
    return path


def _weights_sha256(checkpoint_json: Path) -> str:
    return json.loads(checkpoint_json.read_text())["files"]["weights"]["sha256"]


def _copy_verdict_models(staging: Path, route: str, guard: Path | None, judge: tuple[Path, Path] | None) -> None:
    if guard is not None:
        _copy_checkpoint(guard, staging / "guard", ("guard.json", "guard-*.safetensors"))
        _name_world_model(staging / "guard" / "guard.json", f"{PREFIX}{route}/world_model")
    if judge is not None:
        _copy_checkpoint(judge[0], staging / "judge" / "world_model", WORLD_MODEL_FILES)
        _copy_checkpoint(judge[1], staging / "judge" / "reward", REWARD_FILES)


def _seeds(path: Path) -> dict[str, str] | None:
    """seed_set.sh's seeds.txt ("play 41 demos 4100+i bc 41 ...") as {"play": "41", ...}."""
    if not path.is_file():
        return None
    words = path.read_text().split()
    return dict(zip(words[::2], words[1::2], strict=False))


def _copy_checkpoint(source: Path, target: Path, patterns: tuple[str, ...]) -> None:
    target.mkdir(parents=True)
    copied = [p for pattern in patterns for p in source.glob(pattern)]
    if not copied:
        raise FileNotFoundError(f"{source} holds no {patterns[0]}")
    for path in copied:
        shutil.copy2(path, target / path.name)


def _name_world_model(path: Path, name: str) -> None:
    """The guard's record of the world model it was fitted on, as the release names it."""
    document = json.loads(path.read_text())
    document["world_model"]["path"] = name
    write_atomically(path, json.dumps(document, indent=1))


def _copy_policy(source: Path, target: Path, route: str, extra: tuple[str, ...]) -> None:
    """A policy checkpoint (policy.json and the weights it names), with the checkpoints it refers to
    renamed as release names, so that a fine-tuned policy finds its base and world model."""
    meta = json.loads((source / "policy.json").read_text())
    target.mkdir(parents=True)
    shutil.copy2(source / meta["weights"]["file"], target / meta["weights"]["file"])
    provenance = meta.get("provenance", {})
    if "base_checkpoint" in provenance:
        provenance["base_checkpoint"] = f"{PREFIX}{route}/bc/{meta['skill']}"
    if isinstance(provenance.get("world_model"), dict):
        provenance["world_model"]["path"] = f"{PREFIX}{route}/world_model"
    if isinstance(provenance.get("reward"), dict):
        provenance["reward"]["path"] = f"{PREFIX}{route}/reward"
    if "dataset" in provenance:  # the demonstrations: where imagined episodes start
        provenance["dataset"] = f"{PREFIX}{route}/demos/{meta['skill']}"
    if isinstance(provenance.get("finetune"), dict) and "starts" in provenance["finetune"]:
        provenance["finetune"]["starts"] = f"{PREFIX}{route}/demos/{meta['skill']}"
    write_atomically(target / "policy.json", json.dumps(meta, indent=1))
    for name in extra:
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)


def _measurements(run: Path) -> dict[str, Any]:
    evaluation = json.loads((run / "evaluation.json").read_text())
    verdict_path = run / "verdict.json"
    verdict = json.loads(verdict_path.read_text()).get("verdict") if verdict_path.is_file() else None
    return {
        "bc_success": evaluation["base_success_rate"],
        "finetuned_success": evaluation["success_rate"],
        "gain": evaluation.get("gain"),
        "gain_ci95": evaluation.get("gain_ci95"),
        "episodes": evaluation["episodes"],
        "eval_seed": evaluation.get("seed"),
        "verdict": verdict,
    }
