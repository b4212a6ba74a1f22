#!/usr/bin/env bash
# Export the committed bundles in exported/ from the runs that tools/queue.sh trained on ../shared/data.
# Each line is also written in exported/README.md. Re-running replaces the bundles (--force).
set -euo pipefail
cd "$(dirname "$0")/.."
NOVELTY=${NOVELTY:-2}   # the activity held out of har-lstm-novelty (2 = WALKING_DOWNSTAIRS)
X="ssvae-export --quantize int8 --force --quiet --threads 1"
$X runs/har-labels/lstm-ssvae-seed-all-s0 --out exported/har-lstm
$X runs/har-anomaly/lstm-ssvae-out${NOVELTY}-s0 --out exported/har-lstm-novelty
$X runs/mnist-labels/dense-ssvae-m2-100-s1 --out exported/mnist-dense
$X runs/bundles/mnist-conv --out exported/mnist-conv
du -sh exported/*/
