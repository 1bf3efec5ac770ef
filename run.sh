#!/usr/bin/env bash
# One entry point for a fresh machine:
#   bash run.sh app    install what the app needs, then start it (streamlit run app.py)
#   bash run.sh test   install what the tests need (Debian packages, a PostGIS server), then run them
#   bash run.sh bench  install the benchmark's peers (ogr2ogr from gdal-bin), then run bench/run.py
# Both are idempotent: a second run installs nothing new.
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}

need_apt() {  # install Debian packages that are missing (needs root or sudo)
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

setup_python() {
  $PY -m pip install -q -r requirements.txt "$@"
}

case "${1:-}" in
  app)
    setup_python
    # CJK fonts for the evaluation report's drawings and its PDF (without them: English labels, no PDF).
    need_apt fonts-noto-cjk || echo "run.sh: fonts-noto-cjk not installed: the PDF report is unavailable" >&2
    # Streamlit's server-side upload cap follows the planner's own import limit (planner/settings.py).
    if [ -n "${PLANNER_MAX_UPLOAD_MB:-}" ]; then export STREAMLIT_SERVER_MAX_UPLOAD_SIZE="$PLANNER_MAX_UPLOAD_MB"; fi
    exec $PY -m streamlit run app.py "${@:2}"
    ;;
  test)
    # Debian packages the tests need (real browser, CJK fonts for screenshots).
    need_apt chromium fonts-noto-cjk
    setup_python -r requirements-dev.txt
    $PY -m ruff check .
    $PY -m ruff format --check .
    $PY -m mypy  # planner/, configured in pyproject.toml
    # A throwaway PostGIS server on 127.0.0.1 for the storage suite (it runs against GeoPackage
    # and PostGIS). Under CI a server that does not start is an error; locally those tests skip.
    if PLANNER_TEST_PG=$(PYTHON=$PY bash .ci/postgis.sh | tail -n 1) && [ -n "$PLANNER_TEST_PG" ]; then
      export PLANNER_TEST_PG
    elif [ -n "${CI:-}" ]; then
      echo "run.sh: PostGIS did not start (.ci/postgis.sh); the storage suite needs it under CI" >&2
      exit 1
    else
      unset PLANNER_TEST_PG
      echo "run.sh: PostGIS did not start; its tests will be skipped" >&2
    fi
    exec $PY -m pytest "${@:2}"
    ;;
  bench)
    # The benchmark compares import/export with ogr2ogr (GDAL's command-line tools); the tests never need it.
    need_apt gdal-bin || echo "run.sh: gdal-bin not installed: the benchmark compares with pyogrio only" >&2
    setup_python
    exec $PY bench/run.py "${@:2}"
    ;;
  *)
    echo "usage: bash run.sh app|test|bench [args]" >&2
    exit 2
    ;;
esac
