#!/usr/bin/env bash
# Issue 6, acceptance 2: the same MNIST dense run (100 labels, 5 epochs) on one process and on two
# torchrun ranks (gloo, 127.0.0.1) with the same global batch (2 x 64 = 128); then both evaluated.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${DATA_ROOT:-../shared/data}/mnist
COMMON="--dataset mnist --data-dir $D --arch dense --model ssvae --objective seed --labels 100 --epochs 5 --seed 0 --threads 1 --device cpu --quiet"
OMP_NUM_THREADS=1 GLOO_SOCKET_IFNAME=lo python -m torch.distributed.run --nproc_per_node 2 --master_addr 127.0.0.1 \
  --master_port 29533 -m ssvae_train.cli fit $COMMON --batch-size 64 --out runs/ddp/two-ranks --force
OMP_NUM_THREADS=1 ssvae-train fit $COMMON --batch-size 128 --out runs/ddp/one-process --force
mkdir -p results/ddp
ssvae-train evaluate runs/ddp/two-ranks --out results/ddp/two-ranks.json > /dev/null
ssvae-train evaluate runs/ddp/one-process --out results/ddp/one-process.json > /dev/null
python - <<'PY'
import json
from ssvae_train.training.checkpoint import load_checkpoint
rows = {}
for name in ("one-process", "two-ranks"):
    ev = json.load(open(f"results/ddp/{name}.json"))
    ckpt = load_checkpoint(f"runs/ddp/{name}")
    rows[name] = {"test_accuracy": ev["test_accuracy"], "test_log_loss": ev["test_log_loss"],
                  "seconds_per_epoch": [r["seconds"] for r in ckpt["history"]],
                  "world_size": ckpt.get("world_size", 1)}
rows["accuracy_gap_points"] = 100 * abs(rows["one-process"]["test_accuracy"] - rows["two-ranks"]["test_accuracy"])
json.dump(rows, open("results/ddp/summary.json", "w"), indent=2)
print(json.dumps(rows, indent=2))
PY
