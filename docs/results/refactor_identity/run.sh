#!/usr/bin/env bash
# Same seeds, old and new code: a tiny DenoisingPPO (with the critic warm-up, the base-KL penalty and
# an early stop on target_kl) must end with byte-identical weights and statistics.
#   docs/results/refactor_identity/run.sh OLD_COMMIT   (after `source scripts/env.sh`; repository root)
set -euo pipefail
OLD="${1:?usage: run.sh OLD_COMMIT}"
HERE=docs/results/refactor_identity
TREE=$(mktemp -d)
git worktree add -q "$TREE" "$OLD"
trap 'git worktree remove --force "$TREE"' EXIT
PYTHONPATH="$TREE/src/diwa_core:${PYTHONPATH:-}" python "$HERE/ppo_identity.py" "$TREE/src/diwa_core/test" 2>/dev/null > "$HERE/ppo_old.json"
python "$HERE/ppo_identity.py" src/diwa_core/test 2>/dev/null > "$HERE/ppo_new.json"
python - "$HERE" <<'PY'
import json, sys
old, new = (json.load(open(f"{sys.argv[1]}/ppo_{w}.json")) for w in ("old", "new"))
for case in old:
    same = old[case]["weights"] == new[case]["weights"] and old[case]["stats"] == new[case]["stats"]
    print(f"{case}: weights {old[case]['weights']} -> {new[case]['weights']}, statistics {'identical' if same else 'DIFFER'}")
PY
