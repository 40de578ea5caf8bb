#!/usr/bin/env bash
# Wheels the GPU machines lack (their image has torch, pluggy, click, pandas, ... but not Optuna).
# Run here, where PyPI is reachable; the device tool then carries .whl/ (see scripts/gpu-checks.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
rm -rf .whl && mkdir .whl
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" -d .whl optuna==5.0.0 cmaes==0.13.1 sqlalchemy==2.1.9 alembic==1.20.1 mako==1.4.3 \
  colorlog==6.12.0 greenlet
du -sh .whl && ls .whl
