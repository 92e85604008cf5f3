"""A release made by `make reproduce` against the shipped one: for each model, whether its weights
are identical (sha256 of the safetensors file), and for each fine-tuned skill the paired difference
of the two DiWA policies on the evaluation's 100 episodes (same seed, same start states).

    python docs/results/reproduce_from_nothing/compare.py MADE_RELEASE [SHIPPED_RELEASE] > compare.json
"""

import hashlib
import json
import sys
from pathlib import Path

from diwa.eval.stats import paired_gain_interval
from diwa.released import models_root


def weights_sha(folder: Path) -> str | None:
    files = sorted(folder.glob("*.safetensors"))
    return hashlib.sha256(files[0].read_bytes()).hexdigest() if len(files) == 1 else None


def main() -> None:
    made = Path(sys.argv[1])
    shipped = Path(sys.argv[2]) if len(sys.argv) > 2 else models_root() / "state"
    out: dict = {"made": str(made), "shipped": str(shipped), "weights_identical": {}, "skills": {}}
    folders = sorted({p.parent.relative_to(made) for p in made.rglob("*.safetensors")})
    for folder in folders:
        out["weights_identical"][str(folder)] = weights_sha(made / folder) == weights_sha(shipped / folder)
    for skill in json.loads((made / "release.json").read_text())["skills"]:
        a = json.loads((made / skill / "evaluation.json").read_text())
        b = json.loads((shipped / skill / "evaluation.json").read_text())
        diff, low, high = paired_gain_interval(b["outcomes"], a["outcomes"])
        base_diff, base_low, base_high = paired_gain_interval(b["base_outcomes"], a["base_outcomes"])
        out["skills"][skill] = {
            "bc": [b["base_success_rate"], a["base_success_rate"]],
            "diwa": [b["success_rate"], a["success_rate"]],
            "diwa_difference": diff, "diwa_difference_ci95": [low, high],
            "bc_difference": base_diff, "bc_difference_ci95": [base_low, base_high],
            "gain": [b["gain"], a["gain"]], "gain_ci95": [b["gain_ci95"], a["gain_ci95"]],
        }  # fmt: skip
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
