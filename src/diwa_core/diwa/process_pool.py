"""Commands run side by side, one child process each, followed in one console view.

Why processes and not threads: each training holds its own torch thread pool and RNG state, and a
child that fails (or is killed for memory) takes nothing else down. Each child writes its output to
its own log and its progress records (diwa.progress) to its own file, which this module follows to
draw one bar per job; no IPC beyond files, as with the ROS training servers.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from diwa import progress


@dataclass(frozen=True)
class Job:
    """One command line. `total` is how many progress units it reports when done (e.g. iterations)."""

    name: str
    argv: Sequence[str]
    log: Path
    progress_file: Path
    total: int


@dataclass(frozen=True)
class JobOutcome:
    name: str
    returncode: int
    wall_s: float
    log: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def last_lines(self, count: int = 3) -> list[str]:
        """The log's last non-empty lines: where a failure says why."""
        lines = [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]
        return lines[-count:]


@dataclass
class _Running:
    job: Job
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    follower: progress.ProgressFollower
    started: float


def run_jobs(
    jobs: Sequence[Job],
    workers: int,
    units_done: Callable[[dict[str, Any]], int | None],
    show_progress: bool = True,
    poll_s: float = 0.5,
) -> list[JobOutcome]:
    """Run `jobs`, at most `workers` at a time, in the order given; a job that fails does not stop
    the others. `units_done(record)` reads a progress record: the units done so far, or None for a
    record that does not count. Returns the outcomes in the order of `jobs`. On KeyboardInterrupt the
    running children are terminated (their logs keep what they wrote) and the interrupt re-raised."""
    if workers < 1:
        raise ValueError(f"workers must be positive, got {workers}")
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):
        raise ValueError(f"job names must differ: {names}")
    queued = list(jobs)
    running: list[_Running] = []
    outcomes: dict[str, JobOutcome] = {}
    bars = {
        job.name: tqdm(total=job.total, desc=job.name, position=i, unit="it", leave=True, disable=not show_progress)
        for i, job in enumerate(jobs)
    }
    for bar in bars.values():
        bar.set_postfix_str("queued")
    try:
        while queued or running:
            while queued and len(running) < workers:
                running.append(_start(queued.pop(0), show_progress))
                bars[running[-1].job.name].set_postfix_str("running")
            time.sleep(poll_s)
            for entry in list(running):
                _advance(bars[entry.job.name], entry.follower, units_done)
                code = entry.process.poll()
                if code is None:
                    continue
                _advance(bars[entry.job.name], entry.follower, units_done)
                entry.log.close()
                running.remove(entry)
                outcome = JobOutcome(entry.job.name, code, time.monotonic() - entry.started, entry.job.log)
                outcomes[entry.job.name] = outcome
                _report_end(bars[entry.job.name], outcome, show_progress)
    except KeyboardInterrupt:
        for entry in running:
            entry.process.terminate()
        for entry in running:
            entry.process.wait()
            entry.log.close()
        raise
    finally:
        for bar in bars.values():
            bar.close()
    return [outcomes[name] for name in names]


def _start(job: Job, show_progress: bool) -> _Running:
    job.log.parent.mkdir(parents=True, exist_ok=True)
    job.progress_file.parent.mkdir(parents=True, exist_ok=True)
    job.progress_file.unlink(missing_ok=True)  # a resumed job reports from where it is now
    log = job.log.open("ab")
    env = {**os.environ, progress.ENV_VAR: str(job.progress_file)}
    process = subprocess.Popen(list(job.argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    if not show_progress:
        print(f"{job.name}: started (log {job.log})", flush=True)
    return _Running(job, process, log, progress.ProgressFollower(job.progress_file), time.monotonic())


def _advance(
    bar: tqdm, follower: progress.ProgressFollower, units_done: Callable[[dict[str, Any]], int | None]
) -> None:
    for record in follower.new_records():
        done = units_done(record)
        if done is not None and done > bar.n:
            bar.update(done - bar.n)


def _report_end(bar: tqdm, outcome: JobOutcome, show_progress: bool) -> None:
    state = "done" if outcome.ok else f"FAILED (exit {outcome.returncode})"
    bar.set_postfix_str(state)
    if not show_progress:
        print(f"{outcome.name}: {state} after {outcome.wall_s:.0f} s", flush=True)
