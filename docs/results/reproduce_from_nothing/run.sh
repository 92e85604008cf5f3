#!/usr/bin/env bash
# `make reproduce ROUTE=state` from nothing (issue 27): a fresh clone of one commit, `make setup`,
# then the one command, each timed; the console output goes to DIR/*.log.
#
#   docs/results/reproduce_from_nothing/run.sh DIR [COMMIT]     (from the repository root)
set -euo pipefail
DIR="${1:?usage: run.sh DIR [COMMIT]}"
COMMIT="${2:-HEAD}"
SRC="$(pwd)"
[ ! -e "$DIR" ] || { echo "run.sh: $DIR exists; give a new directory" >&2; exit 2; }
git clone --quiet --no-local "$SRC" "$DIR"
cd "$DIR"
git checkout --quiet "$(git -C "$SRC" rev-parse "$COMMIT")"
echo "commit $(git rev-parse HEAD) started $(date -u +%FT%TZ) on $(nproc) cores" | tee timings.txt
t0=$(date +%s)
make setup > setup.log 2>&1
t1=$(date +%s)
echo "make setup: $((t1 - t0)) s" | tee -a timings.txt
make reproduce ROUTE=state > reproduce.log 2>&1
t2=$(date +%s)
echo "make reproduce ROUTE=state: $((t2 - t1)) s; total $((t2 - t0)) s; ended $(date -u +%FT%TZ)" | tee -a timings.txt
