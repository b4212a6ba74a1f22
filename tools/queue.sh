#!/usr/bin/env bash
# The order in which this session ran the experiment cells (most needed first), as two one-core
# lanes side by side (two 1-thread jobs beat one 2-thread job on 2 cores). Every line resumes.
cd "$(dirname "$0")/.."
R="python tools/reproduce.py run --jobs 1"
D=../shared/data
lane_a() {
  $R mnist-labels --filter=dense-,-100-
  $R mnist-anomaly
  $R mnist-labels --filter=dense-
  $R mnist-best --filter=dense-m2-lr3e-3-h256
  $R mnist-labels --filter=conv-supervised-ce-100
  $R mnist-labels --filter=conv-ssvae-seed-100-
  $R mnist-labels --filter=conv-,-1000-
  $R mnist-labels --filter=conv-
  $R mnist-best --filter=dense-
  $R mnist-best --filter=m1-vae          # M1s first: the M1+M2 cells stand on them
  $R mnist-best --filter=m1m2
  $R mnist-best
  $R generation
}
lane_b() {
  $R har-labels --filter=lstm-ssvae-seed-all-s0
  $R har-anomaly --filter=lstm-ssvae-out2-
  $R har-labels --filter=lstm-supervised-ce-all-s0
  [ -f runs/bundles/mnist-conv/checkpoint.pt ] && r=--resume || r=
  ssvae-train fit --dataset mnist --data-dir $D/mnist --arch conv --model ssvae --objective seed --labels 100 \
    --epochs 5 --seed 0 --threads 1 --out runs/bundles/mnist-conv $r
  $R har-anomaly
  $R mnist-earlystop
  for s in 0 1 2; do  # one seed of every budget first
    $R har-labels --seeds $s --filter=lstm-ssvae-seed
    $R har-labels --seeds $s --filter=lstm-supervised
  done
}
case "${1:-both}" in
  a) lane_a >> results/lane_a.log 2>&1 ;;
  b) lane_b >> results/lane_b.log 2>&1 ;;
  *) lane_a >> results/lane_a.log 2>&1 & lane_b >> results/lane_b.log 2>&1 & wait ;;
esac
