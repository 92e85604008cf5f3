"""`diwa finetune-skills`: several skills fine-tuned side by side, one `diwa finetune` process each.

Each skill's run is exactly the `diwa finetune` command a user would type for it (same seeds, same
files), so a skill fine-tuned here and one fine-tuned alone give the same weights. What this adds:
the scheduling over --workers processes, one progress view, per-skill logs, a failing skill that
does not stop the others, and the report at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from diwa.distributed import check_device
from diwa.process_pool import Job, JobOutcome, run_jobs
from diwa.released import resolve
from diwa.rl.config import PROFILES, load_finetune_config
from diwa.skills import SKILLS, check_skill

LOGS = "logs"
REPORT_NAME = "report"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "finetune-skills",
        help="fine-tune several skills side by side (one `diwa finetune` process per skill), then report",
        description="Runs `diwa finetune` for each skill in its own process, at most --workers at a time, with one "
        "progress bar per skill and each skill's output in <out>/logs/<skill>.log. A skill that fails does not "
        "stop the others; it is listed at the end and the exit status is 1. Rerun the same command to finish: "
        "runs evaluated for the weights they hold are skipped, unfinished ones resume. Writes <out>/<skill>/ (as "
        "`diwa finetune --out`) and, when the skills were evaluated, <out>/report.{json,md,png} (as `diwa report`).",
    )
    parser.add_argument("--skills", required=True, help=f"'all' or a comma-separated list of: {', '.join(SKILLS)}")
    parser.add_argument(
        "--policies",
        required=True,
        help="directory of behaviour-cloned policies, one per skill as <dir>/<skill> (what `diwa train-policy "
        "--out <dir>/<skill>` writes; `released:state/bc` for the released ones)",
    )
    parser.add_argument("--wm", required=True, help="world-model checkpoint")
    parser.add_argument("--reward", required=True, help="directory of the reward classifiers (reward_<skill>.json)")
    parser.add_argument("--out", required=True, type=Path, help="output directory: one run per skill, logs, report")
    parser.add_argument(
        "--workers", type=int, default=2, help="skills fine-tuned at once (default 2; one CPU core each)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per skill (default 1)")
    parser.add_argument(
        "--devices",
        default="cpu",
        help="comma-separated torch devices the skills take in turn (skill i runs on device i mod N), e.g. "
        "cuda:0,cuda:1 (default cpu; see finetune --device)",
    )
    parser.add_argument("--profile", default="quick", help=f"{' | '.join(PROFILES)} or a YAML file (default quick)")
    parser.add_argument("--iterations", type=int, help="PPO iterations (default: the profile's)")
    parser.add_argument("--base-kl", type=float, metavar="COEF", help="KL weight to the BC policy (see finetune)")
    parser.add_argument("--guard", action="store_true", help="enable the model-error guard (see finetune)")
    parser.add_argument("--eval-every", type=int, help="simulator evaluation every N iterations (see finetune)")
    parser.add_argument("--eval-episodes", type=int, help="episodes per evaluation (0: no simulator evaluation)")
    parser.add_argument("--eval-seed", type=int, default=0, help="seed of the evaluation episodes (default 0)")
    parser.add_argument(
        "--action-delay", type=int, metavar="PERIODS", help="control periods of command delay (see finetune)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of fine-tuning, the same for every skill")
    parser.add_argument("--no-progress", action="store_true", help="a line per skill started and ended, no bars")
    parser.add_argument("--json", action="store_true", help="end with a JSON summary on the last line")
    parser.set_defaults(run=run_finetune_skills)


def chosen_skills(spec: str) -> list[str]:
    if spec == "all":
        return list(SKILLS)
    skills = [check_skill(name.strip()) for name in spec.split(",") if name.strip()]
    if not skills or len(set(skills)) != len(skills):
        raise ValueError(f"--skills {spec!r}: name each skill once, or 'all'")
    return skills


def check_out(out: Path, skills: list[str]) -> None:
    """Refuse an --out holding anything this command does not write (a rerun finds its own files)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a directory")
    ours = {*SKILLS, LOGS, *(f"{REPORT_NAME}.{ext}" for ext in ("json", "md", "png"))}
    others = sorted(p.name for p in out.iterdir() if p.name not in ours) if out.is_dir() else []
    if others:
        raise ValueError(f"--out {out} holds {', '.join(others[:5])}, which this command does not write")


def finished(run: Path) -> bool:
    """Evaluated for the weights it holds now: nothing left to do."""
    try:
        evaluation = json.loads((run / "evaluation.json").read_text())
        weights = json.loads((run / "policy.json").read_text())["weights"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return evaluation.get("policy_sha256") == weights


def chosen_devices(spec: str) -> list[str]:
    devices = [name.strip() for name in spec.split(",") if name.strip()]
    if not devices:
        raise ValueError(f"--devices {spec!r}: name at least one device")
    for device in devices:
        check_device(device)
    return devices


def finetune_argv(
    args: argparse.Namespace, skill: str, policies: Path, wm: Path, reward: Path, device: str = "cpu"
) -> list[str]:
    """The `diwa finetune` command line of one skill."""
    run = args.out / skill
    argv = [sys.executable, "-m", "diwa", "finetune", "--skill", skill, "--policy", str(policies / skill)]
    argv += ["--wm", str(wm), "--reward", str(reward), "--out", str(run), "--profile", str(args.profile)]
    argv += ["--device", device]
    argv += ["--seed", str(args.seed), "--eval-seed", str(args.eval_seed), "--threads", str(args.threads)]
    for flag, value in (
        ("--iterations", args.iterations),
        ("--base-kl", args.base_kl),
        ("--eval-every", args.eval_every),
        ("--eval-episodes", args.eval_episodes),
        ("--action-delay", args.action_delay),
    ):
        if value is not None:
            argv += [flag, str(value)]
    argv += ["--guard"] if args.guard else []
    argv += ["--resume"] if (run / "finetune.json").is_file() else []
    return [*argv, "--no-progress", "--json"]


def run_finetune_skills(args: argparse.Namespace) -> int:
    skills = chosen_skills(args.skills)
    devices = chosen_devices(args.devices)
    if args.workers < 1 or args.threads < 1:
        raise ValueError(f"--workers and --threads must be positive, got {args.workers} and {args.threads}")
    policies, wm, reward = resolve(args.policies), resolve(args.wm), resolve(args.reward)
    config = load_finetune_config(args.profile)  # a bad profile fails here, before any process starts
    iterations = config.run.iterations if args.iterations is None else args.iterations
    missing = [str(policies / s) for s in skills if not (policies / s / "policy.json").is_file()]
    missing += [str(reward / f"reward_{s}.json") for s in skills if not (reward / f"reward_{s}.json").is_file()]
    missing += [] if (wm / "world_model.json").is_file() or (wm.suffix == ".json" and wm.is_file()) else [str(wm)]
    if missing:
        raise FileNotFoundError(f"missing before any skill started: {', '.join(missing)}")
    check_out(args.out, skills)
    args.out.mkdir(parents=True, exist_ok=True)
    todo = [s for s in skills if not finished(args.out / s)]
    for skill in sorted(set(skills) - set(todo), key=skills.index):
        print(f"{skill}: finished and evaluated before in {args.out / skill}; skipped")
    jobs = [
        Job(
            name=skill,
            argv=finetune_argv(args, skill, policies, wm, reward, devices[index % len(devices)]),
            log=args.out / LOGS / f"{skill}.log",
            progress_file=args.out / LOGS / f"{skill}.progress.jsonl",
            total=iterations,
        )
        for index, skill in enumerate(todo)
    ]
    started = time.monotonic()
    outcomes = run_jobs(jobs, args.workers, _iteration, show_progress=not args.no_progress)
    wall_s = time.monotonic() - started
    failed = [o for o in outcomes if not o.ok]
    for outcome in failed:
        print(f"{outcome.name} FAILED (exit {outcome.returncode}; log {outcome.log}):", file=sys.stderr)
        for line in outcome.last_lines():
            print(f"  {line}", file=sys.stderr)
    done = [s for s in skills if s not in {o.name for o in failed}]
    evaluated = [s for s in done if finished(args.out / s)]
    print(f"{len(done)} of {len(skills)} skills fine-tuned in {wall_s:.0f} s with {args.workers} worker(s)")
    if evaluated:
        from diwa.rl import report

        document = report.build_report(REPORT_NAME, [args.out / s for s in evaluated], [], None)
        from diwa.eval.charts import finetune_png

        png = finetune_png(document["skills"], REPORT_NAME)
        report.write_report_files(args.out, REPORT_NAME, document, report.markdown_table(document["skills"]), png)
    if args.json:
        print(json.dumps(_summary(skills, outcomes, wall_s, args.workers, args.out)))
    return 1 if failed else 0


def _iteration(record: dict[str, Any]) -> int | None:
    return int(record["iteration"]) if record.get("kind") == "finetune" else None


def _summary(skills: list[str], outcomes: list[JobOutcome], wall_s: float, workers: int, out: Path) -> dict:
    by_name = {o.name: o for o in outcomes}
    rows = {}
    for skill in skills:
        outcome = by_name.get(skill)
        evaluation = out / skill / "evaluation.json"
        row: dict[str, Any] = {
            "ok": outcome is None or outcome.ok,
            "exit_code": None if outcome is None else outcome.returncode,
            "wall_s": None if outcome is None else round(outcome.wall_s, 1),
            "log": None if outcome is None else str(outcome.log),
        }
        if finished(out / skill):
            document = json.loads(evaluation.read_text())
            row |= {
                "base_success": document["base_success_rate"],
                "final_success": document["success_rate"],
                "gain_ci95": document["gain_ci95"],
            }
        rows[skill] = row
    return {"out": str(out), "workers": workers, "wall_s": round(wall_s, 1), "skills": rows}
