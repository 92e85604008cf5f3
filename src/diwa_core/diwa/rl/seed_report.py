"""Claims across independent seed sets (`diwa report-seeds`), never from the best of many runs.

Each seed set is one full pipeline run (its own play, demonstrations, world model, reward and
fine-tuning seeds), given as the directory of its fine-tuned runs, one subdirectory per skill with
the paired simulator evaluation (evaluation.json, per-episode outcomes) and, when judged, the
pre-deployment verdict (verdict.json). Per skill the report gives each set's gain with its paired
95 % interval, and across sets the mean gain, its spread and the interval of the mean (sets weigh
equally; stratified over the paired episodes). It also scores the verdict against the simulator:
how often it flags a skill that got worse, and how often it flags one that did not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diwa.eval.stats import paired_gain_interval, stratified_gain_interval
from diwa.rl.evaluation import EVALUATION_FILE
from diwa.rl.verdict import read_verdict


def read_set(directory: Path) -> dict[str, dict[str, Any]]:
    """{skill: {"evaluation": ..., "verdict": ... or None, "method": ...}} for one seed set."""
    runs: dict[str, dict[str, Any]] = {}
    for run in sorted(p for p in Path(directory).iterdir() if (p / EVALUATION_FILE).is_file()):
        evaluation = json.loads((run / EVALUATION_FILE).read_text())
        if "outcomes" not in evaluation:
            raise ValueError(f"{run / EVALUATION_FILE} has no per-episode outcomes (written before they were kept)")
        skill = evaluation["skill"]
        if skill in runs:
            raise ValueError(f"{directory} holds two runs of {skill}")
        method = json.loads((run / "policy.json").read_text()).get("training", {}).get("method")
        runs[skill] = {"evaluation": evaluation, "verdict": read_verdict(run), "method": method, "dir": str(run)}
    if not runs:
        raise FileNotFoundError(f"{directory} holds no evaluated fine-tuning runs")
    return runs


def _differences(evaluation: dict[str, Any]) -> list[float]:
    pairs = zip(evaluation["outcomes"], evaluation["base_outcomes"], strict=True)
    return [float(after) - float(before) for after, before in pairs]


def _set_entry(run: dict[str, Any]) -> dict[str, Any]:
    evaluation = run["evaluation"]
    gain, low, high = paired_gain_interval(evaluation["base_outcomes"], evaluation["outcomes"])
    verdict = run["verdict"]
    return {
        "bc_success": evaluation["base_success_rate"],
        "finetuned_success": evaluation["success_rate"],
        "gain": gain,
        "gain_ci95": [low, high],
        "significantly_worse": high < 0,
        "significantly_better": low > 0,
        "episodes": evaluation["episodes"],
        "eval_seed": evaluation["seed"],
        "finetune_env_steps": 0 if run["method"] == "diwa-imagination" else None,
        "verdict": None if verdict is None else verdict["verdict"],
        "imagined_success": None if verdict is None else verdict["finetuned"]["imagined_success"],
        "trusted_gain": None if verdict is None else verdict["trusted_gain"],
        "run": run["dir"],
    }


def build_report(name: str, sets: list[Path]) -> dict[str, Any]:
    read = [read_set(directory) for directory in sets]
    skills = list(read[0])
    for directory, runs in zip(sets, read, strict=True):
        if list(runs) != skills:
            raise ValueError(f"{directory} holds runs of {sorted(runs)}, the first set of {sorted(skills)}")
    rows = []
    for skill in skills:
        entries = [_set_entry(runs[skill]) for runs in read]
        strata = [_differences(runs[skill]["evaluation"]) for runs in read]
        mean, low, high = stratified_gain_interval(strata)
        gains = [e["gain"] for e in entries]
        rows.append(
            {
                "skill": skill,
                "sets": entries,
                "mean_bc_success": sum(e["bc_success"] for e in entries) / len(entries),
                "mean_finetuned_success": sum(e["finetuned_success"] for e in entries) / len(entries),
                "mean_gain": mean,
                "mean_gain_ci95": [low, high],
                "gain_min": min(gains),
                "gain_max": max(gains),
            }
        )
    per_set = []
    for k, directory in enumerate(sets):
        entries = [row["sets"][k] for row in rows]
        per_set.append(
            {
                "set": str(directory),
                "mean_bc_success": sum(e["bc_success"] for e in entries) / len(entries),
                "mean_finetuned_success": sum(e["finetuned_success"] for e in entries) / len(entries),
                "skills_improved": sum(e["gain"] > 0 for e in entries),
                "skills_significantly_better": sum(e["significantly_better"] for e in entries),
                "skills_significantly_worse": sum(e["significantly_worse"] for e in entries),
                "finetune_env_steps": sum(e["finetune_env_steps"] or 0 for e in entries),
            }
        )
    for entry in per_set:
        entry["mean_gain"] = entry["mean_finetuned_success"] - entry["mean_bc_success"]
    return {"name": name, "skills": rows, "sets": per_set, "verdict_vs_simulator": verdict_scores(rows)}


def verdict_scores(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """How the verdict's flag (anything but "improved") matched the simulator, over skills and sets."""
    judged = [e for row in rows for e in row["sets"] if e["verdict"] is not None]
    if not judged:
        return None
    worse = [e for e in judged if e["gain"] < 0]
    not_worse = [e for e in judged if e["gain"] >= 0]
    flagged = [e for e in judged if e["verdict"] != "improved"]
    return {
        "judged": len(judged),
        "got_worse": len(worse),
        "got_worse_flagged": sum(e["verdict"] != "improved" for e in worse),
        "significantly_worse": sum(e["significantly_worse"] for e in judged),
        "significantly_worse_flagged": sum(e["significantly_worse"] and e["verdict"] != "improved" for e in judged),
        "did_not_get_worse": len(not_worse),
        "did_not_get_worse_flagged": sum(e["verdict"] != "improved" for e in not_worse),
        "flagged": len(flagged),
    }


def _pct(x: float) -> str:
    return f"{x:+.0%}" if x else "0%"


def markdown(report: dict[str, Any]) -> str:
    sets = report["sets"]
    header = "| skill | " + " | ".join(
        f"set {k + 1}: BC -> fine-tuned (gain, 95 % CI) [verdict]" for k in range(len(sets))
    )
    lines = [header + " | mean gain (95 % CI) | spread |", "|---|" + "---|" * (len(sets) + 2)]
    for row in report["skills"]:
        cells = []
        for e in row["sets"]:
            low, high = e["gain_ci95"]
            mark = " **worse**" if e["significantly_worse"] else ""
            verdict = f" [{e['verdict']}]" if e["verdict"] is not None else ""
            cells.append(
                f"{e['bc_success']:.0%} -> {e['finetuned_success']:.0%} ({_pct(e['gain'])}, {low:+.0%}..{high:+.0%})"
                f"{mark}{verdict}"
            )
        low, high = row["mean_gain_ci95"]
        lines.append(
            f"| {row['skill']} | " + " | ".join(cells) + f" | {_pct(row['mean_gain'])} ({low:+.0%}..{high:+.0%}) "
            f"| {row['gain_min']:+.0%}..{row['gain_max']:+.0%} |"
        )
    lines.append("")
    lines.append(
        "| set | mean BC | mean fine-tuned | mean gain | improved | significantly better | significantly worse "
        "| simulator steps in fine-tuning |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for k, s in enumerate(sets):
        lines.append(
            f"| {k + 1}: `{s['set']}` | {s['mean_bc_success']:.1%} | {s['mean_finetuned_success']:.1%} "
            f"| {s['mean_gain'] * 100:+.1f} pts | {s['skills_improved']} of {len(report['skills'])} "
            f"| {s['skills_significantly_better']} | {s['skills_significantly_worse']} | {s['finetune_env_steps']} |"
        )
    scores = report["verdict_vs_simulator"]
    if scores is not None:
        lines.append("")
        s = scores
        lines.append(
            f"Verdict against the simulator ({s['judged']} judged skill runs): flagged {s['got_worse_flagged']} "
            f"of the {s['got_worse']} that got worse ({s['significantly_worse_flagged']} of the "
            f"{s['significantly_worse']} significantly worse), and {s['did_not_get_worse_flagged']} of the "
            f"{s['did_not_get_worse']} that did not."
        )
    return "\n".join(lines) + "\n"
