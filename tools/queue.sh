#!/usr/bin/env bash
# The order in which this session ran the experiment cells (most needed first); each line resumes.
cd "$(dirname "$0")/.."
R="python tools/reproduce.py run --jobs 2"
$R mnist-labels --filter=dense-,-100-
$R har-labels --filter=-all-s0
$R har-anomaly --filter=lstm-ssvae
$R mnist-anomaly
$R mnist-labels --filter=conv-,-100- --seeds 0
$R har-anomaly
$R mnist-labels --filter=dense-
$R har-labels
$R mnist-labels --seeds 0,1,2
