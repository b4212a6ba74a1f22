#!/usr/bin/env bash
# The HAPT training grid behind exported/har-phone*, RESULTS.md § hapt and benchmarks/hapt-*.
# Resumable: a finished run is skipped, a killed one continues from its last epoch (--resume). Two queues
# run side by side with one torch thread each (2 threads are only ~1.4x faster than 1 on these CPUs):
#   bash tools/hapt_runs.sh a & bash tools/hapt_runs.sh b &
# The recipe (the har-lstm recipe of make_bundles.sh, with a cosine schedule and 3 validation people) was
# fixed before any HAPT test figure was read; which run ships is picked on validation people (pick_run.py).
set -euo pipefail
cd "$(dirname "$0")/.."
ZIP=${HAPT:-"../shared/data/hapt/HAPT Data Set - RawData, 27 users.zip"}
R=runs/hapt
RECIPE=(--dataset hapt --data-dir "$ZIP" --arch convlstm --objective m2 --batch-size 32 --lr 0.003 --kl-weight 2
        --hidden 128 --augment jitter,scale,rotate --val-fraction 0.15 --lr-schedule cosine --threads 1 --quiet)
# Novelty runs before the twenty-ninth round kept the unlabelled windows straddling the held-out class's segments
# (--held-out-windows whole); their lines say so, so that they train again as they were measured.
run() {  # run NAME EPOCHS ARGS...: fit, or continue, the run in runs/hapt/NAME
  local out=$R/$1 epochs=$2; shift 2
  if [ -f "$out/checkpoint.pt" ]; then
    ssvae-train fit --out "$out" --data-dir "$ZIP" --resume --epochs "$epochs" --threads 1 --quiet
  else
    ssvae-train fit "${RECIPE[@]}" --out "$out" --epochs "$epochs" "$@"
  fi
  echo "$(date +%T) done $out"
}
case "${1:-all}" in
  a|all)
    run full-s0 40 --model ssvae --labels all --seed 0
    run novelty-ds-s0 40 --model ssvae --labels all --exclude-class 2 --held-out-windows whole --seed 0   # 2 = WALKING_DOWNSTAIRS
    run full-norot-s0 40 --model ssvae --labels all --seed 0 --augment jitter,scale  # see queue c
    for f in 0.1 0.01; do for s in 0 1 2; do run sup-l$f-s$s 30 --model supervised --labels $f --seed $s; done; done
    for s in 1 2; do run full-s$s 40 --model ssvae --labels all --seed $s; done  # when time allows
    ;;&
  d|all)
    # The transitions as classes of their own for the novelty bundle, added after the first novelty run's
    # validation people showed its false alerts in labelled time were all postural transitions (no test read).
    run novelty-tr-ds-s0 40 --model ssvae --labels all --exclude-class 2 --held-out-windows whole --transitions --seed 0
    ;;&
  e)  # queue b's 1 % runs split over two queues when a core frees up (the same runs as in b)
    run ss-l0.01-s2 30 --model ssvae --labels 0.01 --seed 2
    ;;
  g)  # the last supervised 1 % run, when queue a was stopped before full-s1/full-s2 to free a core
    run sup-l0.01-s2 30 --model supervised --labels 0.01 --seed 2
    ;;
  f)
    for s in 0 1; do run ss-l0.01-s$s 30 --model ssvae --labels 0.01 --seed $s; done
    ;;
  m)  # ADDED AFTER THE TEST FIGURES WERE READ (results/hapt-tried.md): one test recording was worn turned
    # around on the belt; the same recipe as full-norot-s0 with the phone's two belt mountings as augmentation
    run full-norot-mount-s0 40 --model ssvae --labels all --seed 0 --augment jitter,scale,mount
    ;;
  t)  # Session of 2026-12-06 evening, after the test figures of the first bundles were read (results/hapt-tried.md):
    # the classifier with the postural transitions as classes of its own, so that a causal sequence decoder in
    # the runtime can hold a posture until a transition is seen. Chosen against full-norot-s0 on validation only.
    run full-tr-s0 40 --model ssvae --labels all --seed 0 --augment jitter,scale --transitions
    ;;
  u)
    run full-tr-s1 40 --model ssvae --labels all --seed 1 --augment jitter,scale --transitions
    ;;
  n)  # second round: the shipped recipe (full-norot-s0) again, for its sequence filter, and two more seeds
    # (the transitions recipe lost to it on validation: results/hapt-bundles.md); then the 10 % budget on it
    run full-norot-s0 40 --model ssvae --labels all --seed 0 --augment jitter,scale
    for s in 1 2; do run full-norot-s$s 40 --model ssvae --labels all --seed $s --augment jitter,scale; done
    ;;
  l)  # the 10 % label budget on the shipped recipe (no rotation): the first round's budgets had rotations
    for s in 0 1 2; do
      run ss-norot-l0.1-s$s 30 --model ssvae --labels 0.1 --seed $s --augment jitter,scale
      run sup-norot-l0.1-s$s 30 --model supervised --labels 0.1 --seed $s --augment jitter,scale
    done
    ;;
  l3|l4)  # twenty-second round (results/hapt-bundles.md): seeds 3 and 4 of the 10 % comparison, a measurement
    s=${1#l}
    run ss-norot-l0.1-s$s 30 --model ssvae --labels 0.1 --seed $s --augment jitter,scale
    run sup-norot-l0.1-s$s 30 --model supervised --labels 0.1 --seed $s --augment jitter,scale
    ;;
  turn0|turn1|turn2|turn3|turn4)  # twenty-fourth round (results/hapt-bundles.md): every window turned about the
    # phone's long axis by its own angle, against full-norot-sN on the same validation people
    s=${1#turn}
    run full-turn-s$s 40 --model ssvae --labels all --seed $s --augment jitter,scale,turn
    ;;
  lt0|lt1|lt2|lt3|lt4)  # twenty-fourth round, G (results/hapt-bundles.md): 10 % of the labels on the any-angle
    # recipe (--augment jitter,scale,turn), both models, exported with --posture-features long-axis+sway
    s=${1#lt}
    run ss-turn-l0.1-s$s 30 --model ssvae --labels 0.1 --seed $s --augment jitter,scale,turn
    run sup-turn-l0.1-s$s 30 --model supervised --labels 0.1 --seed $s --augment jitter,scale,turn
    ;;
  lu0|lu1|lu2)  # twenty-fourth round, H: 1 % of the labels on the any-angle recipe, both models
    s=${1#lu}
    run ss-turn-l0.01-s$s 30 --model ssvae --labels 0.01 --seed $s --augment jitter,scale,turn
    run sup-turn-l0.01-s$s 30 --model supervised --labels 0.01 --seed $s --augment jitter,scale,turn
    ;;
  cu|ct)  # twenty-fifth round, I (results/hapt-bundles.md): the any-angle recipe with the consistency term, at
    # 1 % (cu) and 10 % (ct) of the labels, paired with ss-turn-l<f>-sN (same seed: validation people, label draw)
    if [ "$1" = cu ]; then f=0.01; else f=0.1; fi
    for s in 0 1 2; do
      run ss-turncons-l$f-s$s 30 --model ssvae --labels $f --seed $s --augment jitter,scale,turn --consistency 76.8
    done
    ;;
  fm0|fm1)  # twenty-sixth round, N (results/hapt-bundles.md): the any-angle recipe with FixMatch's thresholded
    # pseudo-labels as the consistency term, at 1 % and 10 % of the labels, paired with ss-turn-l<f>-sN; two lanes
    if [ "$1" = fm0 ]; then jobs="0.01:0 0.1:0 0.01:2"; else jobs="0.01:1 0.1:1 0.1:2"; fi
    for j in $jobs; do f=${j%:*}; s=${j#*:}
      run ss-turnfm-l$f-s$s 30 --model ssvae --labels $f --seed $s --augment jitter,scale,turn --consistency 76.8 \
        --consistency-threshold 0.95
    done
    ;;
  sh0|sh1)  # twenty-seventh round, Q (results/hapt-bundles.md): the any-angle recipe with the labelled rows' ELBO
    # weighed by their share of the training rows, at 1 % and 10 %, paired with ss-turn-l<f>-sN; two lanes
    if [ "$1" = sh0 ]; then jobs="0.01:0 0.1:0 0.01:2"; else jobs="0.01:1 0.1:1 0.1:2"; fi
    for j in $jobs; do f=${j%:*}; s=${j#*:}
      run ss-turnsh-l$f-s$s 30 --model ssvae --labels $f --seed $s --augment jitter,scale,turn --labelled-elbo share
    done
    ;;
  cn0|cn1)  # twenty-seventh round, R (results/hapt-bundles.md): each window turned to one angle about the long axis
    # inside the model (--frame canonical-turn) instead of turned at random; both models, 1 % and 10 %; two lanes
    if [ "$1" = cn0 ]; then jobs="0.01:0 0.1:0 0.01:2"; else jobs="0.01:1 0.1:1 0.1:2"; fi
    for m in ss sup; do for j in $jobs; do f=${j%:*}; s=${j#*:}
      [ $m = ss ] && model=ssvae || model=supervised
      run $m-canon-l$f-s$s 30 --model $model --labels $f --seed $s --augment jitter,scale --frame canonical-turn
    done; done
    ;;
  ema0|ema1)  # twenty-eighth round, T (results/hapt-bundles.md): the any-angle recipe with the weights averaged
    # (--weight-ema 0.999), both models, 1 % and 10 %; the ssvae runs first (paired with ss-turn-l<f>-sN); two lanes
    if [ "$1" = ema0 ]; then jobs="0.01:0 0.1:0 0.01:2"; else jobs="0.01:1 0.1:1 0.1:2"; fi
    for m in ss sup; do for j in $jobs; do f=${j%:*}; s=${j#*:}
      [ $m = ss ] && model=ssvae || model=supervised
      run $m-turnema-l$f-s$s 30 --model $model --labels $f --seed $s --augment jitter,scale,turn --weight-ema 0.999
    done; done
    ;;
  z|zs1|zs2|z0|z1)  # twenty-ninth round, Z (results/hapt-bundles.md): the held-out class held out whole (--held-out-windows
    # any, the default since): Y's recipe (z) and the two alert test beds (z0, z1); the same before the correction
    # are queues nv, nv1 and nv3 (trained again in this round, results/hapt-bundles.md)
    case $1 in
      z|zs1|zs2) s=${1#zs}; [ "$1" = z ] && s=0  # zs1, zs2: more seeds of it (a measurement, after Z and AA)
         run novelty-tr-ds-v0.3-any-s$s 40 --model ssvae --labels all --exclude-class 2 --transitions --seed $s \
           --val-fraction 0.3 ;;
      *) s=${1#z}; run novelty-tr-ds-v0.45-any-s$s 40 --model ssvae --labels all --exclude-class 2 --transitions \
           --seed $s --val-fraction 0.45 ;;
    esac
    ;;
  zi1|zi2)  # thirtieth round, AF (results/hapt-bundles.md): the shipped novelty recipe (queue z) with seed 0's
    # validation people and label draw (--split-seed 0) and another initialisation, shuffles and noise (--seed N)
    s=${1#zi}
    run novelty-tr-ds-v0.3-any-s0i$s 40 --model ssvae --labels all --exclude-class 2 --transitions --seed $s \
      --split-seed 0 --val-fraction 0.3
    ;;
  zj1|zj2)  # thirty-first round, AG (results/hapt-bundles.md): as zi1/zi2 for split seeds 1 and 2, so that each of
    # the three splits has three initialisations (its own seed's run is queue zsN); zjN trains split N's other two
    p=${1#zj}
    for s in 0 1 2; do [ "$s" = "$p" ] && continue
      run novelty-tr-ds-v0.3-any-s${p}i$s 40 --model ssvae --labels all --exclude-class 2 --transitions --seed $s \
        --split-seed "$p" --val-fraction 0.3
    done
    ;;
  al0|al1)  # twenty-ninth round, AB (results/hapt-bundles.md): the label weight at four times its default on the
    # any-angle recipe, each run after its pair ss-turn-l<f>-sN (trained again on the same machine); two lanes
    if [ "$1" = al0 ]; then jobs="0.01:0 0.01:2 0.1:0"; else jobs="0.01:1 0.1:1 0.1:2"; fi
    for j in $jobs; do f=${j%:*}; s=${j#*:}
      run ss-turn-l$f-s$s 30 --model ssvae --labels $f --seed $s --augment jitter,scale,turn
      run ss-turnal-l$f-s$s 30 --model ssvae --labels $f --seed $s --augment jitter,scale,turn --alpha 307.2
    done
    ;;
  m1|st0|st1|st2)  # thirtieth round, AC (results/hapt-bundles.md): M1+M2 at 1 % and 10 % of the labels, paired
    # with ss-turn-l<f>-sN. m1: the any-angle recipe's trunk as a plain VAE with MNIST's M1 latent (50, KL weight
    # 1), no labels, one per seed (each seed has its own validation people). stN: seed N's M2s, MNIST's M2 of
    # M1+M2 (make_bundles.sh) on m1-turn-sN's latent means; the recipe's options it does not take are set back
    # to their defaults
    case $1 in
      m1) for s in 0 1 2; do run m1-turn-s$s 30 --model vae --labels all --seed $s --augment jitter,scale,turn \
            --latent-dim 50 --kl-weight 1; done ;;
      *) s=${1#st}
         for f in 0.01 0.1; do
           run ss-stack-l$f-s$s 40 --model ssvae --labels $f --seed $s --m1-run $R/m1-turn-s$s --arch dense \
             --augment none --batch-size 128 --kl-weight 1 --lr-schedule constant --hidden 256 --latent-dim 50 --alpha 48
         done ;;
    esac
    ;;
  nv3)  # twenty-eighth round, Y (results/hapt-bundles.md): the shipped novelty recipe with more validation people
    run novelty-tr-ds-v0.3-s0 40 --model ssvae --labels all --exclude-class 2 --held-out-windows whole --transitions --seed 0 --val-fraction 0.3
    ;;
  lq3|lq4)  # twenty-seventh round, S (results/hapt-bundles.md): seeds 3 and 4 of the 1 % comparison, both recipes,
    # both models (a measurement, so that 1 % has five seeds as 10 % has)
    s=${1#lq}
    run ss-norot-l0.01-s$s 30 --model ssvae --labels 0.01 --seed $s --augment jitter,scale
    run sup-norot-l0.01-s$s 30 --model supervised --labels 0.01 --seed $s --augment jitter,scale
    run ss-turn-l0.01-s$s 30 --model ssvae --labels 0.01 --seed $s --augment jitter,scale,turn
    run sup-turn-l0.01-s$s 30 --model supervised --labels 0.01 --seed $s --augment jitter,scale,turn
    ;;
  ai3|ai4)  # thirty-third round, AI (results/hapt-bundles.md): seeds 3 and 4 of the any-angle recipe's label runs
    # trained again on this machine (as G and S trained them), so that the early-stopping comparison has five seeds
    s=${1#ai}
    for f in 0.01 0.1; do
      run ss-turn-l$f-s$s 30 --model ssvae --labels $f --seed $s --augment jitter,scale,turn
      run sup-turn-l$f-s$s 30 --model supervised --labels $f --seed $s --augment jitter,scale,turn
    done
    ;;
  aj0.01|aj0.1)  # thirty-third round, AJ (results/hapt-bundles.md): the shipped recipe's label runs, seeds 0 to 2,
    # trained again on this machine (as queues l, l1 and l2 trained them) for the early-stopping comparison
    f=${1#aj}
    for s in 0 1 2; do
      run ss-norot-l$f-s$s 30 --model ssvae --labels $f --seed $s --augment jitter,scale
      run sup-norot-l$f-s$s 30 --model supervised --labels $f --seed $s --augment jitter,scale
    done
    ;;
  nt)  # twenty-fifth round, J: the alert test bed (queue nv) with every window also turned about the long axis
    run novelty-tr-ds-turn-v0.45-s0 40 --model ssvae --labels all --exclude-class 2 --held-out-windows whole --transitions --seed 0 \
      --val-fraction 0.45 --augment jitter,scale,rotate,turn
    ;;
  ntr)  # twenty-fifth round, J adopted on the test bed: the shipped novelty recipe (novelty-tr-ds-s0) turned too
    run novelty-tr-ds-turn-s0 40 --model ssvae --labels all --exclude-class 2 --held-out-windows whole --transitions --seed 0 \
      --augment jitter,scale,rotate,turn
    ;;
  nv1)  # twenty-fifth round, L: the alert test bed and its turned version on seed 1 (other validation people)
    run novelty-tr-ds-v0.45-s1 40 --model ssvae --labels all --exclude-class 2 --held-out-windows whole --transitions --seed 1 --val-fraction 0.45
    run novelty-tr-ds-turn-v0.45-s1 40 --model ssvae --labels all --exclude-class 2 --held-out-windows whole --transitions --seed 1 \
      --val-fraction 0.45 --augment jitter,scale,rotate,turn
    ;;
  l1)  # the 1 % budget on the shipped recipe, two lanes: l1 and l2
    for s in 0 1; do run ss-norot-l0.01-s$s 30 --model ssvae --labels 0.01 --seed $s --augment jitter,scale; done
    run sup-norot-l0.01-s2 30 --model supervised --labels 0.01 --seed 2 --augment jitter,scale
    ;;
  l2)
    run ss-norot-l0.01-s2 30 --model ssvae --labels 0.01 --seed 2 --augment jitter,scale
    for s in 0 1; do run sup-norot-l0.01-s$s 30 --model supervised --labels 0.01 --seed $s --augment jitter,scale; done
    ;;
  rm0|rm1|rm2)  # eighth round (results/hapt-bundles.md): rotate only the windows in motion, so still postures
    # keep the tilt that tells sitting from standing; paired with full-norot-s0/s1 on the same validation people
    s=${1#rm}
    run full-norot-rm-s$s 40 --model ssvae --labels all --seed "$s" --augment jitter,scale,rotate-moving
    ;;
  h0|h1|h2)  # ninth round (results/hapt-bundles.md): a smaller trunk (--hidden 64), paired with full-norot-s0/s1
    s=${1#h}
    run full-norot-h64-s$s 40 --model ssvae --labels all --seed "$s" --augment jitter,scale --hidden 64
    ;;
  w0|w1|w2)  # tenth round (results/hapt-bundles.md): a wider trunk (--hidden 256), paired with full-norot-s0/s1
    s=${1#w}
    run full-norot-h256-s$s 40 --model ssvae --labels all --seed "$s" --augment jitter,scale --hidden 256
    ;;
  c|all)
    # A variant without the rotation augmentation, added after the first validation confusion (full-s0, epoch
    # 13: SITTING read as STANDING on a third of its windows; the two differ by the phone's tilt, which random
    # rotations blur). Chosen against the others on validation people only.
    run full-norot-s0 40 --model ssvae --labels all --seed 0 --augment jitter,scale
    ;;&
  s1|s2)  # third round (session of 2026-12-06, night), after every earlier test figure was read: the shipped recipe
    # with a shorter cosine schedule. Every seed of the 40-epoch runs peaked on its validation people within
    # the first 10 epochs (0.951 / 0.941 / 0.964) and ended lower (0.930 / 0.939 / 0.925): it overfits the
    # training people. A seed fixes the split, so full-norot-eE-sN has the validation people of full-norot-sN
    # and the comparison is paired. Rule, written before these runs: results/hapt-bundles.md, third round.
    if [ "$1" = s1 ]; then seeds="0 2"; else seeds="1"; fi
    for s in $seeds; do for e in 12 20; do
      run full-norot-e$e-s$s $e --model ssvae --labels all --seed $s --augment jitter,scale
    done; done
    ;;
  c1|c2)  # fourth round (same session): the consistency term on unlabelled rows (--consistency, UDA), at 10 % of
    # the labels (c1) and with every label (c2); paired with ss-norot-l0.1-sN / full-norot-sN (same seed, same
    # split and label draw). Rule, written before these runs: results/hapt-bundles.md, fourth round.
    # The weight is alpha's (76.8): a window's agreement with itself counts as much as a given label.
    if [ "$1" = c1 ]; then
      for s in 0 1 2; do
        run ss-cons-norot-l0.1-s$s 30 --model ssvae --labels 0.1 --seed $s --augment jitter,scale --consistency 76.8
      done
    else
      for s in 1 0 2; do
        run full-cons-norot-s$s 40 --model ssvae --labels all --seed $s --augment jitter,scale --consistency 76.8
      done
    fi
    ;;
  e60)  # fifth round (same session): 60 epochs, after the third round ranked 12 < 20 < 40 on validation people;
    # two lanes: SEEDS="1 2" bash tools/hapt_runs.sh e60 & SEEDS=0 bash tools/hapt_runs.sh e60
    for s in ${SEEDS:-1 0 2}; do run full-norot-e60-s$s 60 --model ssvae --labels all --seed $s --augment jitter,scale; done
    ;;
  p0|p1|p2)  # fourteenth round (results/hapt-bundles.md; p2 added after the refits were read on test, as a
    # measurement): fewer training people, same validation people as full-norot-sN (a seed fixes the order
    # people go to validation, so a larger fraction holds out more of them)
    s=${1#p}
    for f in 0.45 0.3; do  # (0.7 was refused: --val-fraction must lie below 0.5)
      run full-norot-v$f-s$s 40 --model ssvae --labels all --seed "$s" --augment jitter,scale --val-fraction $f
    done
    ;;
  q3|q4)  # nineteenth round (results/hapt-bundles.md; added after the refits were read on test): two more seeds
    # of the shipped recipe and of its people curve, for the rule that decides the refit from five seeds
    s=${1#q}
    run full-norot-s$s 40 --model ssvae --labels all --seed "$s" --augment jitter,scale
    for f in 0.45 0.3; do
      run full-norot-v$f-s$s 40 --model ssvae --labels all --seed "$s" --augment jitter,scale --val-fraction $f
    done
    ;;
  nv)  # twentieth round (results/hapt-bundles.md; after every earlier test figure was read): the shipped novelty
    # recipe on 11 training people, so that 10 validation people (about 1.4 h of normal time) can judge alert
    # score designs; a test bed, shipped only by the round's rule
    run novelty-tr-ds-v0.45-s0 40 --model ssvae --labels all --exclude-class 2 --held-out-windows whole --transitions --seed 0 --val-fraction 0.45
    ;;
  r0|r1|r2)  # sixteenth round (results/hapt-bundles.md): the shipped recipe refitted on all 21 training people (no
    # validation rows); exported with --choices-from its validated sibling of the same seed
    s=${1#r}
    run full-norot-all-s$s 40 --model ssvae --labels all --seed "$s" --augment jitter,scale --val-fraction 0
    ;;
  v|w)  # seventeenth round (results/hapt-bundles.md): the novelty bundle on the classifier's recipe (no rotation),
    # with (v) and without (w) the transitions as classes; seed 0, the shipped novelty bundle's validation people
    if [ "$1" = v ]; then
      run novelty-tr-ds-norot-s0 40 --model ssvae --labels all --exclude-class 2 --held-out-windows whole --transitions --seed 0 --augment jitter,scale
    else
      run novelty-ds-norot-s0 40 --model ssvae --labels all --exclude-class 2 --held-out-windows whole --seed 0 --augment jitter,scale
    fi
    ;;
  b|all)
    for f in 0.1 0.01; do for s in 0 1 2; do run ss-l$f-s$s 30 --model ssvae --labels $f --seed $s; done; done
    ;;
esac
