#!/usr/bin/env bash
# The device side as a new user meets it: a clean clone of HEAD, a fresh venv, `pip install .` (numpy,
# onnxruntime, typer: no torch), then README's "On the device" commands as written, an int8 stream whose
# labels must equal the offline int8 classifier's, a tampered int8 graph, and the training CLIs without torch.
#   tools/fresh_venv_check.sh [results/fresh_venv.txt]      # the log; exits non-zero at the first surprise
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOG=$(realpath -m "${1:-$ROOT/results/fresh_venv.txt}")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
git clone -q "$ROOT" "$WORK/ssvae" && cd "$WORK/ssvae"
python3 -m venv "$WORK/venv" && . "$WORK/venv/bin/activate"
{
echo "# fresh venv check of $(git rev-parse --short HEAD), $(date -u +%FT%TZ), $(python3 --version)"
run() { echo "\$ $*"; "$@"; echo "[exit $?]"; }
fails() { echo "\$ $* (must exit 2 with one line)"; set +e; out=$("$@" 2>&1); rc=$?; set -e
          echo "$out"; echo "[exit $rc]"; [ "$rc" = 2 ] && [ "$(echo "$out" | wc -l)" = 1 ]; }
echo '$ pip install -q .'; pip install -q . 2>&1 | { grep -v 'is ignored: it is neither' || true; }
python3 -c "import importlib.util as u; assert u.find_spec('torch') is None, 'torch is installed'; print('no torch: ok')"
sed -n '/^## On the device/,/^```$/p' README.md | sed -n '/^```bash/,/^```$/p' | grep '^ssvae-edge' | sed 's/ *#.*//' |
  while read -r line; do echo "\$ $line"; eval "$line" > "$WORK/out.txt"; echo "[exit 0] $(wc -l < "$WORK/out.txt") lines"; done
echo "\$ int8 stream labels == offline int8 classifier"
ssvae-edge stream exported/har-lstm --input exported/har-demo/demo_stream.csv --hop 128 --precision int8 --json > "$WORK/s.jsonl"
python3 - "$WORK/s.jsonl" <<'EOF'
import json, sys
from ssvae_edge import Bundle, cut_windows, read_recording
b = Bundle.load("exported/har-lstm", precision="int8")
rec = read_recording("exported/har-demo/demo_stream.csv", b.channels, b.sample_rate_hz)
offline = [b.classes[i] for i in b.classify(cut_windows(rec.samples, b.window, hop=128)).argmax(1)]
events = [json.loads(line) for line in open(sys.argv[1])]
streamed = [e["class"] for e in events if "window" in e]
assert streamed == offline, f"{sum(a != b for a, b in zip(streamed, offline))} of {len(offline)} labels differ"
print(f"{len(offline)} windows: streamed int8 labels equal the offline int8 classifier's")
EOF
cp -r exported/har-lstm "$WORK/tampered"
python3 -c "p='$WORK/tampered/classifier.int8.onnx'; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=1; open(p,'wb').write(b)"
fails ssvae-edge info "$WORK/tampered" --precision int8
fails ssvae-export --help
fails ssvae-train fit --dataset digits --out "$WORK/run"
run ssvae-edge --version
echo "all checks passed"
} 2>&1 | tee "$LOG"
