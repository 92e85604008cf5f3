#!/usr/bin/env bash
# Runs the README's test command N times in a row (default 3) and records, per run, the wall time,
# the totals and the outcome of every franky-sim test (tests/test_franky_*.py, tests/test_robot_check.py)
# in runs.jsonl beside this script (the full output in $TMPDIR/franky_in_make_test_I.log).
# Usage: docs/results/franky_in_make_test/run.sh [N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../../.."
runs="${1:-3}"
for i in $(seq 1 "$runs"); do
  xml="$(mktemp --suffix=.xml)"
  start=$(date +%s)
  status=0
  make test PYTEST_ARGS="-q --junitxml=$xml" >"${TMPDIR:-/tmp}/franky_in_make_test_$i.log" 2>&1 || status=$?
  end=$(date +%s)
  python - "$xml" "$status" "$((end - start))" "$i" >>"$here/runs.jsonl" <<'PY'
import json, sys, xml.etree.ElementTree as ET
path, status, seconds, run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
suite = ET.parse(path).getroot()
suite = suite.find("testsuite") if suite.tag == "testsuites" else suite
franky = {}
for case in suite.iter("testcase"):
    name = case.get("classname", "") + "::" + case.get("name", "")
    if "test_franky_" in name or "test_robot_check" in name:
        outcome = "failed" if case.find("failure") is not None or case.find("error") is not None else (
            "skipped" if case.find("skipped") is not None else "passed")
        franky[name] = outcome
print(json.dumps({
    "run": run, "exit": status, "wall_s": seconds, "tests": int(suite.get("tests")),
    "failures": int(suite.get("failures")), "errors": int(suite.get("errors")), "skipped": int(suite.get("skipped")),
    "franky_tests": franky,
}))
PY
  rm -f "$xml"
  tail -1 "$here/runs.jsonl"
done
