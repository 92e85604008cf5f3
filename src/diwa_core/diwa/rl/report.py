"""The headline table of one seed set (`diwa report`), from fine-tuning output directories.

For each skill it pairs a DiWA run (fine-tuned in imagination) with, optionally, a DPPO run (the
same PPO online in the simulator) and writes `<out>/<name>.json`, `<name>.md` and `<name>.png`.
Success rates come from the runs' own paired simulator evaluations (evaluation.json: same seeded
episodes before and after). `dppo_env_steps_to_match` is the number of simulator steps the online
run had used for learning at its first evaluation reaching DiWA's fine-tuned success, or null if
it never did within its budget.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diwa.atomic import write_atomically
from diwa.rl.evaluation import EVALUATION_FILE
from diwa.rl.verdict import read_verdict


def _read_run(directory: Path) -> dict[str, Any]:
    evaluation_path, policy_path = directory / EVALUATION_FILE, directory / "policy.json"
    for path in (evaluation_path, policy_path):
        if not path.is_file():
            raise FileNotFoundError(f"{directory} is not an evaluated fine-tuning run ({path.name} missing)")
    evaluation = json.loads(evaluation_path.read_text())
    policy = json.loads(policy_path.read_text())
    training = policy.get("training", {})
    # Runs written before the route was recorded were all on the state route.
    observation = policy.get("provenance", {}).get("finetune", {}).get("observation", "state")
    if "method" not in training:
        raise ValueError(f"{policy_path} was not written by fine-tuning (no training method recorded)")
    state_path = directory / "finetune.json"
    identity = json.loads(state_path.read_text()).get("identity", {}) if state_path.is_file() else {}
    verdict = read_verdict(directory)
    return {
        "dir": directory,
        "evaluation": evaluation,
        "training": training,
        "identity": identity,
        "verdict": verdict,
        "observation": observation,
    }


def world_model_data(path: Path, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The frames the world model was trained on, by source, after checking that every DiWA run
    fine-tuned in this very model. Play is shared by all skills; policy rollouts are robot time too."""
    from diwa.world_model.store import read_world_model_info

    info, _ = read_world_model_info(path)
    for run in runs:
        used = run["identity"].get("world_model_sha256")
        if used != info.weights_sha256:
            raise ValueError(
                f"{run['dir']} was fine-tuned in world model {used or 'unknown'}, not in {path} ({info.weights_sha256})"
            )
    frames = int(info.provenance["frames"])
    return {
        "path": str(info.path),
        "weights_sha256": info.weights_sha256,
        "frames": frames,
        "frames_by_source": info.provenance.get("frames_by_source") or _sources_from_dataset(info.provenance),
    }


def _sources_from_dataset(provenance: dict[str, Any]) -> dict[str, int]:
    """Frames by source for a checkpoint written before they were recorded: read from its dataset if
    that is still where it was and unchanged, else only how many frames there were."""
    from diwa.data.dataset import frames_by_source, load_dataset

    path = provenance.get("dataset_path")
    if path and (Path(path) / "meta.json").is_file():
        dataset = load_dataset(path, images=False)
        if dataset.content_hash() == provenance.get("dataset_hash"):
            return frames_by_source(dataset)
    return {"unrecorded": int(provenance["frames"])}


def steps_to_match(online: dict[str, Any], target: float, seed: int, episodes: int) -> int | None:
    """Simulator steps used for learning at the first evaluation of `online` reaching `target`;
    only evaluations on the same seeded episodes count."""
    if (online["evaluation"]["seed"], online["evaluation"]["episodes"]) != (seed, episodes):
        raise ValueError(
            f"{online['dir']} was evaluated on other episodes (seed {online['evaluation']['seed']}, "
            f"{online['evaluation']['episodes']} episodes) than the DiWA run (seed {seed}, {episodes}): not comparable"
        )
    reached = [e["env_steps"] for e in online["training"].get("evaluations", []) if e["success_rate"] >= target]
    return min(reached) if reached else None


def skill_row(run: dict[str, Any], online: dict[str, Any] | None) -> dict[str, Any]:
    evaluation, training = run["evaluation"], run["training"]
    imagination = training["method"] == "diwa-imagination"
    row: dict[str, Any] = {
        "skill": evaluation["skill"],
        "method": training["method"],
        "bc_success": evaluation["base_success_rate"],
        "finetuned_success": evaluation["success_rate"],
        "eval_episodes": evaluation["episodes"],
        "eval_seed": evaluation["seed"],
        "finetune_env_steps": 0 if imagination else int(training["env_steps"]),
        "imagined_steps": int(training.get("imagined_steps", 0)),
        "iterations": training["iterations"],
        "wall_s": training["wall_s"],
        "eval_env_steps": evaluation.get("eval_env_steps"),
        "dppo_env_steps_to_match": None,
        "dppo_budget_env_steps": None,
        "dppo_final_success": None,
        "verdict": None if run["verdict"] is None else run["verdict"]["verdict"],
        "run": str(run["dir"]),
    }
    if online is not None:
        row["dppo_env_steps_to_match"] = steps_to_match(
            online, evaluation["success_rate"], evaluation["seed"], evaluation["episodes"]
        )
        row["dppo_budget_env_steps"] = int(online["training"]["env_steps"])
        row["dppo_final_success"] = online["evaluation"]["success_rate"]
    return row


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| skill | BC success | fine-tuned success | eval episodes | env steps (fine-tuning) | imagined steps "
        "| wall s | DPPO env steps to match | verdict (world model) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        match = r["dppo_env_steps_to_match"]
        if match is None and r["dppo_budget_env_steps"] is not None:
            match_text = f"not within {r['dppo_budget_env_steps']:,}"
        else:
            match_text = "-" if match is None else f"{match:,}"
        lines.append(
            f"| {r['skill']} | {r['bc_success']:.0%} | {r['finetuned_success']:.0%} | {r['eval_episodes']} "
            f"| {r['finetune_env_steps']:,} | {r['imagined_steps']:,} | {r['wall_s']:.0f} | {match_text} "
            f"| {r.get('verdict') or '-'} |"
        )
    return "\n".join(lines) + "\n"


def build_report(name: str, runs: list[Path], online: list[Path], wm: Path | None = None) -> dict[str, Any]:
    diwa_runs = [_read_run(d) for d in runs]
    online_runs = {}
    for directory in online:
        run = _read_run(directory)
        skill = run["evaluation"]["skill"]
        if skill in online_runs:
            raise ValueError(f"two online runs for {skill}: {online_runs[skill]['dir']} and {directory}")
        online_runs[skill] = run
    skills = [r["evaluation"]["skill"] for r in diwa_runs]
    if len(set(skills)) != len(skills):
        raise ValueError(f"more than one DiWA run per skill among {skills}")
    observations = sorted({run["observation"] for run in diwa_runs})
    if len(observations) != 1:
        raise ValueError(f"the runs mix observation routes ({', '.join(observations)}); report each route on its own")
    rows = [skill_row(run, online_runs.get(run["evaluation"]["skill"])) for run in diwa_runs]
    report: dict[str, Any] = {
        "name": name,
        "observation": observations[0],
        "skills": rows,
        "mean_bc_success": sum(r["bc_success"] for r in rows) / len(rows),
        "mean_finetuned_success": sum(r["finetuned_success"] for r in rows) / len(rows),
    }
    if wm is not None:
        data = world_model_data(wm, diwa_runs)
        report["world_model_data"] = data
        for row in rows:
            match = row["dppo_env_steps_to_match"]
            row["dppo_steps_per_world_model_frame"] = None if match is None else match / data["frames"]
    return report


def data_line(data: dict[str, Any]) -> str:
    sources = ", ".join(f"{source} {frames:,}" for source, frames in data["frames_by_source"].items())
    return f"World model trained on {data['frames']:,} simulator frames shared by all skills ({sources}).\n"


def write_report_files(out: Path, name: str, document: dict, text: str, png: bytes) -> int:
    """<out>/<name>.json, .md and .png, each written atomically; the table goes to the console."""
    write_atomically(out / f"{name}.json", (json.dumps(document, indent=1) + "\n").encode())
    write_atomically(out / f"{name}.md", f"# {name}\n\n{text}".encode())
    write_atomically(out / f"{name}.png", png)
    print(text, end="")
    print(f"wrote {out / name}.{{json,md,png}}")
    return 0
