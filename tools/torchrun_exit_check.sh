#!/usr/bin/env bash
# How often a two-rank torchrun fit ends badly (benchmarks/torchrun-exit.md): the 1-epoch digits fit of
# tests/test_distributed.py, N times, counting non-zero exits; each failure's log is kept under runs/torchrun-exit/.
#   bash tools/torchrun_exit_check.sh 80
set -uo pipefail
cd "$(dirname "$0")/.."
n=${1:-80}; fails=0; out=runs/torchrun-exit; mkdir -p "$out"
export OMP_NUM_THREADS=1 GLOO_SOCKET_IFNAME=lo
for i in $(seq 1 "$n"); do
  rm -rf "$out/run"
  python -m torch.distributed.run --nproc_per_node 2 --master_addr 127.0.0.1 --master_port $((30000 + RANDOM % 20000)) \
    -m ssvae_train.cli fit --dataset digits --labels 100 --device cpu --quiet --threads 1 --epochs 1 \
    --out "$out/run" > "$out/last.log" 2>&1 || { fails=$((fails + 1)); cp "$out/last.log" "$out/fail-$i.log"; }
  echo "$i runs, $fails failed"
done
echo "$(date -u +%F) $n runs, $fails failed ($(git rev-parse --short HEAD))"
