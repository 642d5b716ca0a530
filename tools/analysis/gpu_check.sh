#!/usr/bin/env bash
# The GPU check, ready to run on a machine with CUDA (docs/benchmarks.md, "GPU check"): device, matrix-product rate,
# precision matrix, block benchmark against mmcv / timm, a few `tools/train.py --amp` iterations of I3D + SNL and
# DeepLabV3 + SNL; writes DIR/gpu_check.json, DIR/gpu_check.md and DIR/gpu_check.log. Without CUDA it runs the same
# sections on the CPU at toy sizes and says that no GPU was found.
#
#   tools/analysis/gpu_check.sh [--out DIR] [--timeout SEC] [--python PY] [--no-make-venv] [--wheelhouse DIR]
#                               [--export DIR] [-- ARGS for tools/analysis/gpu_check.py]
#   tools/analysis/gpu_check.sh --download-wheels DIR    # on a machine with PyPI: the OpenMMLab wheels to carry
#
# The Python it runs with, first that works: --python PY (or $SNL_PYTHON); the repository's .venv if it imports
# torch; `make venv` (torch and the rest from requirements/constraints.txt; needs PyPI; at most $VENV_TIMEOUT s,
# default 300); `python3` on PATH if it imports torch. With --wheelhouse DIR (default: .whl when it exists), the
# wheels there (see --download-wheels) are installed, without an index, into work_dirs/gpu_check_site for that Python.
# The whole check, environment included, stops after --timeout seconds (default 480); sections finished by then are
# in the report.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 2
T0=$(date +%s)

OUT=work_dirs/gpu_check
LIMIT=480
PY=${SNL_PYTHON:-}
MAKE_VENV=1
WHEELHOUSE=
EXPORT=
DOWNLOAD=
EXTRA=()
while (($#)); do
  case $1 in
    --out) OUT=$2; shift 2 ;;
    --timeout) LIMIT=$2; shift 2 ;;
    --python) PY=$2; shift 2 ;;
    --no-make-venv) MAKE_VENV=0; shift ;;
    --wheelhouse) WHEELHOUSE=$2; shift 2 ;;
    --export) EXPORT=$2; shift 2 ;;
    --download-wheels) DOWNLOAD=$2; shift 2 ;;
    --) shift; EXTRA+=("$@"); break ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) EXTRA+=("$1"); shift ;;
  esac
done

# ------------------------------------------------------------------------------------------------- wheels to carry
# What a GPU machine's PyTorch image typically lacks of our stack (such images have torch, torchvision, timm, numpy,
# scipy, matplotlib, opencv, ...): the pure-Python OpenMMLab packages and their small dependencies, decord (binary),
# setuptools < 81 (pkg_resources, which mmengine 0.10.7 uses to resolve `mmaction::` / `mmseg::` bases). Versions
# from requirements/constraints.txt; for Python $WHEEL_PYTHON_VERSION (default 3.12).
WHEEL_PKGS=(mmengine mmcv-lite mmaction2 mmsegmentation decord addict yapf termcolor platformdirs prettytable wcwidth
            ftfy importlib_metadata setuptools)
if [[ -n $DOWNLOAD ]]; then
  mkdir -p "$DOWNLOAD"
  PIP=${PY:-python3}
  rc=0
  for name in "${WHEEL_PKGS[@]}"; do
    pin=$(grep -i -E "^${name//[-_]/[-_]}==" requirements/constraints.txt | head -1)
    spec=${pin:-$name}
    echo "== $spec"
    if ! "$PIP" -m pip download -q --no-deps --only-binary=:all: --implementation cp \
         --python-version "${WHEEL_PYTHON_VERSION:-3.12}" \
         --platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux_2_17_x86_64 \
         --platform manylinux_2_28_x86_64 -d "$DOWNLOAD" "$spec"; then
      # a pure-Python package published as a source archive only: build its wheel here (py3-none-any)
      "$PIP" -m pip wheel -q --no-deps -w "$DOWNLOAD" "$spec" || { echo "!! $spec: no wheel"; rc=1; }
    fi
  done
  ls -la "$DOWNLOAD"
  du -sh "$DOWNLOAD"
  exit $rc
fi

# ------------------------------------------------------------------------------------------------- the environment
# probe PY: prints 1 (torch sees a GPU) or 0 (torch, no GPU); nothing when PY does not import torch
probe() { { [[ -x $1 ]] || command -v "$1" >/dev/null 2>&1; } &&
          "$1" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null | tail -1; }
HOW=
if [[ -n $PY ]]; then
  CUDA=$(probe "$PY"); [[ -n $CUDA ]] || { echo "gpu_check: $PY does not import torch" >&2; exit 2; }
  HOW="given ($PY)"
elif CUDA=$(probe .venv/bin/python) && [[ -n $CUDA ]]; then
  PY=.venv/bin/python; HOW="existing .venv"
else
  if ((MAKE_VENV)); then
    VENV_EXISTED=0; [[ -e .venv ]] && VENV_EXISTED=1
    echo "gpu_check: no usable .venv: trying \`make venv\` (at most ${VENV_TIMEOUT:-300} s; needs PyPI) ..."
    VLOG=$(mktemp)
    if PIP_DEFAULT_TIMEOUT=15 PIP_RETRIES=1 timeout "${VENV_TIMEOUT:-300}" make venv >"$VLOG" 2>&1 \
       && CUDA=$(probe .venv/bin/python) && [[ -n $CUDA ]]; then
      PY=.venv/bin/python; HOW="made by \`make venv\`"
    else
      echo "gpu_check: \`make venv\` failed (its last lines below); falling back on python3 from PATH"
      tail -5 "$VLOG" | sed 's/^/    /'
      ((VENV_EXISTED)) || rm -rf .venv  # do not leave a half-made .venv behind
    fi
    rm -f "$VLOG"
  fi
  if [[ -z $PY ]] && CUDA=$(probe python3) && [[ -n $CUDA ]]; then
    PY=$(command -v python3); HOW="python3 from PATH ($PY)"
  fi
fi
if [[ -z $PY ]]; then
  echo "gpu_check: no Python with torch found (tried .venv, make venv, python3)" >&2
  exit 2
fi
# a Python that sees no GPU while python3 does (a CPU-only .venv on a GPU machine): take python3
if [[ $CUDA != 1 && $PY != "$(command -v python3)" ]] && [[ $(probe python3) == 1 ]]; then
  echo "gpu_check: $PY sees no GPU but python3 does: using python3"
  PY=$(command -v python3); HOW="python3 from PATH ($PY; the first choice saw no GPU)"; CUDA=1
fi

SITE=
[[ -z $WHEELHOUSE && -d .whl ]] && WHEELHOUSE=.whl
if [[ -n $WHEELHOUSE ]]; then
  SITE=$ROOT/work_dirs/gpu_check_site
  echo "gpu_check: installing the wheels of $WHEELHOUSE into $SITE (no index) ..."
  if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
       "$WHEELHOUSE"/*.whl; then
    HOW="$HOW + wheels from $WHEELHOUSE"
  else
    echo "gpu_check: installing the wheels failed; going on without them"; SITE=
  fi
fi
export PYTHONPATH="$ROOT${SITE:+:$SITE}${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore SNL_GPU_CHECK_ENV="$HOW"

mkdir -p "$OUT"
LOG=$OUT/gpu_check.log
GPU_SEEN="no -> the CPU fallback at toy sizes"
[[ $CUDA == 1 ]] && GPU_SEEN=yes
echo "gpu_check: python: $PY ($HOW); torch sees a GPU: $GPU_SEEN" | tee "$LOG"

# what is left of the limit for the check itself (its own time limit ends it 20 s before the hard one)
LEFT=$((LIMIT - ($(date +%s) - T0)))
((LEFT < 60)) && LEFT=60
echo "gpu_check: running tools/analysis/gpu_check.py with ${LEFT} s left (limit ${LIMIT} s) ..." | tee -a "$LOG"
timeout --signal=TERM --kill-after=15 "$LEFT" "$PY" tools/analysis/gpu_check.py --out "$OUT" \
  --time-limit $((LEFT - 20)) "${EXTRA[@]}" 2>&1 | tee -a "$LOG"
RC=${PIPESTATUS[0]}
((RC == 124)) && echo "gpu_check: the global time limit (${LIMIT} s) ended the check" | tee -a "$LOG"

if [[ -n $EXPORT ]]; then  # the main files, flat (for a tool that brings back few files, few folders deep)
  mkdir -p "$EXPORT"
  for f in gpu_check.json gpu_check.md gpu_check.log precision/precision.json precision/precision.md; do
    [[ -f $OUT/$f ]] && cp "$OUT/$f" "$EXPORT/"
  done
fi
echo "gpu_check: exit $RC after $(($(date +%s) - T0)) s; results: $OUT/gpu_check.md, $OUT/gpu_check.json, $LOG" \
  "(python: $HOW)${EXPORT:+; copies in $EXPORT}"
exit "$RC"
