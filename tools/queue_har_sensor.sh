#!/usr/bin/env bash
# The har-sensor grid in the order this session ran it: the budgets that acceptance hinges on (5 %, 10 %)
# first, then the others. Resumable: finished cells are skipped, a killed cell resumes from its checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
for b in 0.1 0.05 0.01 0.25 all; do
  python tools/reproduce.py run har-sensor --filter="-$b-" --jobs 2 "$@"
done
