#!/usr/bin/env bash
# `diwa robot-check --backend franky` against franky-sim (an FR3 that speaks libfranka's protocol on
# 127.0.0.1), as a user runs it before the first skill on a new cell: the JSON line it prints, with the
# machine's load beside it. franky-sim's arm starts above the Franka profile's box, so the check moves
# it to the start pose first (--move-to-start); --no-realtime because this PC has no PREEMPT_RT kernel.
#   docs/results/robot_check_franky/run.sh OUT.jsonl   (after `source scripts/env.sh`)
set -euo pipefail
OUT="${1:?usage: run.sh OUT.jsonl}"
coproc SERVER { exec python tests/franky_sim_server.py; }
trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
read -r ADDRESS <&"${SERVER[0]}"
case "$ADDRESS" in 127.*) ;; *) echo "franky-sim did not start: $ADDRESS" >&2; exit 1 ;; esac
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
set +e
LINE=$(python -m diwa robot-check --backend franky --robot-ip "$ADDRESS" --no-realtime --move-to-start --json | tail -1)
CODE=$?
set -e
python - "$LINE" "$LOAD_BEFORE" "$(cut -d' ' -f1 /proc/loadavg)" "$(nproc)" "$CODE" >> "$OUT" <<'PY'
import json, sys
line, before, after, cores, code = sys.argv[1:]
print(json.dumps({"robot_check": json.loads(line), "exit_code": int(code), "cores": int(cores),
                  "load_1min_before": float(before), "load_1min_after": float(after)}))
PY
tail -1 "$OUT"
