#!/usr/bin/env bash
# Run every benchmark that `diwa bench` offers and print one JSON object mapping name -> result.
set -euo pipefail
results="{}"
for name in $(python -c "
from diwa.cli import build_parser
import argparse
bench = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices['bench']
print(' '.join(next(a for a in bench._actions if isinstance(a, argparse._SubParsersAction)).choices))
"); do
  echo "== diwa bench $name" >&2
  line=$(diwa bench "$name" --json | tail -n 1)
  results=$(python -c 'import json,sys; r=json.loads(sys.argv[1]); r[sys.argv[2]]=json.loads(sys.argv[3]); print(json.dumps(r))' "$results" "$name" "$line")
done
echo "$results"
