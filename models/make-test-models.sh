#!/bin/sh
# Rebuild the random-weights test models in test/fixtures/ from seeded checkpoints in the users' format:
#   random-w60: F = 169, window 60, five events (one Korean), hidden 32, 2 bidirectional layers
#   random-any: F = 12, window 0 (any length), two events, hidden 8, 1 unidirectional layer
set -e
PY="${PYTHON:-/usr/bin/python3}"
cd "$(dirname "$0")/.."
mkdir -p models/.work test/fixtures/random-w60 test/fixtures/random-any
"$PY" models/make_random_checkpoint.py models/.work/random-w60.pt
"$PY" models/export_onnx.py models/.work/random-w60.pt test/fixtures/random-w60/model.onnx
"$PY" models/make_random_checkpoint.py models/.work/random-any.pt --win 0 --feat 12 --hidden 8 --layers 1 --unidirectional --events "넘어짐,wandering"
"$PY" models/export_onnx.py models/.work/random-any.pt test/fixtures/random-any/model.onnx
