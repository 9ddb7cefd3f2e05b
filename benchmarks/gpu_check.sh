#!/usr/bin/env bash
# The GPU check of issue 21, for a machine with an NVIDIA GPU, from a clean checkout:
#   bash benchmarks/gpu_check.sh
# 1. a virtual environment (.venv-gpu; it sees the system's packages, so a CUDA torch already
#    installed is reused) with the CUDA wheels: torch, onnxruntime-gpu, TensorRT for torch's CUDA;
# 2. pytest -m gpu tests/gpu (AMP steps, CUDA vs CPU, onnxruntime-CUDA vs CPU, TensorRT parity,
#    2-GPU NCCL DDP where there are 2 GPUs);
# 3. `internet animate` at 512x512 on examples/driving.mp4 (90 frames) with paper-512 weights
#    (random: speed only), per backend: torch (CUDA), onnxruntime CUDA, TensorRT fp16;
# 4. one table: the tests' counts and each backend's time.
# Meant to finish in under 8 minutes; every stage has its own time limit. Without a GPU it exits at
# once with one line and status 2. Environment: GPU_CHECK_VENV (default .venv-gpu), GPU_CHECK_OUT
# (default gpu-check-out), GPU_CHECK_PRESET (default paper-512).
set -uo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q "^GPU "; then
  echo "gpu_check: no NVIDIA GPU on this machine (nvidia-smi lists none): nothing to check" >&2
  exit 2
fi

T0=$SECONDS
VENV=${GPU_CHECK_VENV:-.venv-gpu}
OUT=${GPU_CHECK_OUT:-gpu-check-out}
PRESET=${GPU_CHECK_PRESET:-paper-512}
PY=$VENV/bin/python
mkdir -p "$OUT"
fail() { echo "gpu_check: $*" >&2; exit 1; }
stage() { echo "== $* ($((SECONDS - T0)) s)"; }

stage "environment"
[ -x "$PY" ] || python3 -m venv --system-site-packages "$VENV" || fail "cannot create $VENV"
"$PY" -m pip install -q --upgrade pip >/dev/null || fail "pip cannot upgrade itself"
if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.version.cuda else 1)" 2>/dev/null; then
  timeout 300 "$PY" -m pip install -q "torch>=2.13,<2.15" || fail "cannot install a CUDA build of torch"
fi
CUDA_MAJOR=$("$PY" -c "import torch; print((torch.version.cuda or '').split('.')[0])")
[ -n "$CUDA_MAJOR" ] || fail "torch $("$PY" -c 'import torch; print(torch.__version__)') is a CPU build; install a CUDA one"
timeout 300 "$PY" -m pip install -q -e ".[test]" "onnxruntime-gpu[cuda,cudnn]==1.31.1" "tensorrt-cu${CUDA_MAJOR}" \
  || fail "cannot install the package with onnxruntime-gpu and tensorrt-cu${CUDA_MAJOR}"
# The CUDA, cuDNN and TensorRT libraries that pip installed, for onnxruntime's CUDA provider.
LIBS=$("$PY" - <<'EOF'
import glob, os, site
roots = site.getsitepackages()
found = {os.path.dirname(p) for r in roots for pattern in ("nvidia/*/lib/*.so*", "tensorrt_libs/*.so*")
         for p in glob.glob(os.path.join(r, pattern))}
print(":".join(sorted(found)))
EOF
)
export LD_LIBRARY_PATH="${LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$PY" -c "import torch; assert torch.cuda.is_available(), 'torch sees no GPU'" || fail "torch cannot use the GPU"
INTERNET="$VENV/bin/internet"
"$INTERNET" info | tee "$OUT/info.txt"

stage "tests/gpu"
timeout 330 "$PY" -m pytest -q -m gpu tests/gpu -p no:cacheprovider -o addopts="-ra" >"$OUT/tests.txt" 2>&1
TEST_RC=$?
tail -n 25 "$OUT/tests.txt"
TESTS=$(grep -E "^[0-9]+ (passed|failed|skipped|error)|(passed|failed|skipped|error).* in [0-9.]+s" "$OUT/tests.txt" \
        | tail -n 1 | sed 's/=//g; s/^ *//; s/ *$//')

stage "animate at 512 per backend"
W="$OUT/$PRESET.safetensors"
"$INTERNET" init "$PRESET" -o "$W" --overwrite >/dev/null || fail "cannot write $PRESET weights"
ANIM=(examples/source.png examples/driving.mp4 --crop none --batch-size 4 --overwrite --no-audio)
ROWS=()
run_backend() {  # NAME WEIGHTS BACKEND [prepare command...]
  local name=$1 weights=$2 backend=$3 log="$OUT/animate-$1.txt"
  shift 3
  if [ $# -gt 0 ] && ! timeout 240 "$@" >"$OUT/prepare-$name.txt" 2>&1; then
    ROWS+=("| $name | preparation failed ($(tail -n 1 "$OUT/prepare-$name.txt" | cut -c1-80)) | | |"); return
  fi
  if timeout 240 "$INTERNET" animate "${ANIM[@]}" -o "$OUT/$name.mp4" -w "$weights" --backend "$backend" \
       --device cuda >"$log" 2>&1; then
    local line; line=$(grep -E "^wrote .* s/frame" "$log" | tail -n 1)
    local total per model
    total=$(sed -E 's/.* in ([0-9.]+) s:.*/\1/' <<<"$line")
    per=$(sed -E 's/.*: ([0-9.]+) s\/frame,.*/\1/' <<<"$line")
    model=$(sed -E 's/.*model ([0-9.]+) s\/frame.*/\1/' <<<"$line")
    ROWS+=("| $name | $total | $per | $model |")
  else
    ROWS+=("| $name | failed ($(grep -E '^internet:' "$log" | tail -n 1 | cut -c1-80)) | | |")
  fi
}
run_backend torch "$W" torch
run_backend onnxruntime-cuda "$OUT/$PRESET.onnx" onnx \
  "$INTERNET" export --onnx -w "$W" -o "$OUT/$PRESET.onnx"
if "$PY" -c "import tensorrt" 2>/dev/null; then
  run_backend tensorrt-fp16 "$OUT/$PRESET.fp16.onnx" tensorrt \
    "$INTERNET" export --onnx --fp16 --tensorrt -w "$W" -o "$OUT/$PRESET.fp16.onnx"
else
  ROWS+=("| tensorrt-fp16 | TensorRT did not install | | |")
fi

stage "done"
GPU=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -n 1)
VERSIONS=$("$PY" -c "import torch, onnxruntime as o; import importlib.util as u; t = u.find_spec('tensorrt') and __import__('tensorrt').__version__; print(f'torch {torch.__version__} (CUDA {torch.version.cuda}), onnxruntime {o.__version__}, TensorRT {t or \"none\"}')")
{
  echo
  echo "GPU check: $GPU; $VERSIONS; $(($(nvidia-smi -L | grep -c '^GPU '))) GPU(s); $((SECONDS - T0)) s in all"
  echo "tests/gpu: ${TESTS:-no summary (see $OUT/tests.txt)}"
  echo "internet animate, $PRESET (random weights), examples/driving.mp4: 90 frames at 512x512, --batch-size 4, --crop none"
  echo
  echo "| backend | wall s | s/frame | model s/frame |"
  echo "|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
} | tee "$OUT/table.md"
[ "$TEST_RC" -eq 0 ] || exit 1
