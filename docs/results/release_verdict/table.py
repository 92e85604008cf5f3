"""The state release's verdicts before and after its verdict models were made again (judge.sh,
update_release.sh), beside the simulator's paired gain the release measured; prints markdown.

    python docs/results/release_verdict/table.py
"""

from __future__ import annotations

import json
from pathlib import Path

from diwa.released import models_root

HERE = Path(__file__).parent


def cell(document: dict) -> str:
    low, high = document["trusted_gain_ci95"]
    trusted = f"{100 * document['trusted_gain']:+.1f} ({100 * low:+.1f}..{100 * high:+.1f})"
    other = document["independent"]
    if other is None:
        return f"{trusted} | - | {document['verdict']}"
    olow, ohigh = other["gain_ci95"]
    return f"{trusted} | {100 * other['gain']:+.1f} ({100 * olow:+.1f}..{100 * ohigh:+.1f}) | {document['verdict']}"


def main() -> None:
    release = json.loads((models_root() / "state" / "release.json").read_text())
    print(
        "| skill | simulator gain (95 %) | before: trusted gain | independent gain | verdict "
        "| again: trusted gain | independent gain | verdict |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for skill, measured in release["skills"].items():
        low, high = measured["gain_ci95"]
        simulator = f"{100 * measured['gain']:+.0f} ({100 * low:+.0f}..{100 * high:+.0f})"
        before = json.loads((HERE / "before" / f"{skill}.json").read_text())
        again = json.loads((HERE / "verdicts" / f"{skill}.json").read_text())
        print(f"| {skill} | {simulator} | {cell(before)} | {cell(again)} |")


if __name__ == "__main__":
    main()
