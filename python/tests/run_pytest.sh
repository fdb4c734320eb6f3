#!/bin/sh
# The meson tests of the Python binding: run_pytest.sh cpu|gpu [pytest args]
#   cpu: every test but tests/test_gpu_*.py (suite 'python', run by make test)
#   gpu: tests/test_gpu_*.py (suite 'gpu'); a run where nothing ran exits 77
# Uses the first of $PYTHON, python3, /usr/bin/python3 that has pytest (make
# deps installs Debian's python3-pytest). Without one: skipped (77).
here=$(cd "$(dirname "$0")" && pwd)
mode=${1:-cpu}
[ $# -gt 0 ] && shift
export PYTHONDONTWRITEBYTECODE=1
for py in ${PYTHON:-} python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import pytest' 2>/dev/null; then
    if [ "$mode" = gpu ]; then
      export TJ_PYTEST_SKIP_IS_77=1
      exec "$py" -m pytest -p no:cacheprovider -q -rs "$@" "$here"/test_gpu_*.py
    fi
    exec "$py" -m pytest -p no:cacheprovider -q -rs "$@" --ignore-glob='*/test_gpu_*' "$here"
  fi
done
echo "SKIP: no python3 with pytest (make deps installs python3-pytest)"
exit 77
