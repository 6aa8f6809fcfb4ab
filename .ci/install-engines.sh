#!/usr/bin/env bash
# Installs the four real agent CLIs (codex, claude, opencode, gemini) at pinned versions into
# .ci/engines/ (a private npm prefix, never global) for the real-engine adapter tests
# (tests/it/test_real_engines.rs), which find them in .ci/engines/node_modules/.bin.
#
# Idempotent: when every package is already present at its pinned version (and its native
# binary is in place) nothing is contacted. Only the npm registry is needed.
#
# Why pinned: the tests assert on each CLI's wire protocol and output format, which change
# between releases; and `npm i @anthropic-ai/claude-code` on node 20 silently resolves an old
# 2.1.197 because newer releases declare engines.node>=22 (the binary is native, node 20 is fine).
#
# Usage: .ci/install-engines.sh [PREFIX]   (default PREFIX: <repo>/.ci/engines)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prefix=${1:-"$here/engines"}

# name@version, one per CLI. Keep in step with the versions documented in engines.md.
pins=(
  "@openai/codex@0.169.0"
  "@anthropic-ai/claude-code@2.1.331"
  "opencode-ai@1.18.33"
  "@google/gemini-cli@0.61.0"
)
# The executables the tests run; each must exist (and run) after the install.
bins=(codex claude opencode gemini)

installed_version() { # $1 = package name -> version in the prefix, or empty
  local pj="$prefix/node_modules/$1/package.json"
  [[ -f $pj ]] || return 0
  node -e 'process.stdout.write(String(require(process.argv[1]).version||""))' "$pj"
}

all_present() {
  local pin name want
  for pin in "${pins[@]}"; do
    name=${pin%@*}
    want=${pin##*@}
    [[ $(installed_version "$name") == "$want" ]] || return 1
  done
  for b in "${bins[@]}"; do
    [[ -x "$prefix/node_modules/.bin/$b" ]] || return 1
  done
  # Written only after the native binaries were linked and every CLI answered --version.
  [[ -f "$prefix/.installed" && $(cat "$prefix/.installed") == "${pins[*]}" ]]
}

command -v node >/dev/null || { echo "install-engines: node is required (>= 20)" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-engines: npm is required" >&2; exit 1; }

if all_present; then
  echo "install-engines: already installed in $prefix: ${pins[*]}"
else
  mkdir -p "$prefix"
  # A private package.json so npm never walks up into the repository (or a parent) and never
  # touches anything outside the prefix.
  if [[ ! -f "$prefix/package.json" ]]; then
    printf '{ "name": "godzilla-ci-engines", "private": true, "version": "0.0.0" }\n' >"$prefix/package.json"
  fi
  start=$(date +%s)
  # --no-audit/--no-fund/--no-update-notifier: no calls beyond the registry's tarballs.
  # --omit=dev: runtime dependencies only. --save-exact keeps the pins in package.json.
  # --ignore-scripts: npm 10 runs every lifecycle script and npm 11 gates them behind
  #   allowScripts, and gemini's optional node-pty would try a node-gyp build. So run none here,
  #   and below run exactly the two postinstalls that matter, the same way on every npm.
  # fetch-retries with backoff: CI's registry access can be flaky.
  attempt=1
  until npm install --prefix "$prefix" --no-audit --no-fund --no-update-notifier --omit=dev \
      --save-exact --ignore-scripts --progress=false --loglevel=warn \
      --fetch-retries=5 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=60000 \
      --fetch-timeout=300000 \
      "${pins[@]}"; do
    if (( attempt >= 3 )); then
      echo "install-engines: npm install failed after $attempt attempts" >&2
      exit 1
    fi
    attempt=$((attempt + 1))
    echo "install-engines: npm install failed, retry $attempt of 3" >&2
    sleep $((attempt * 10))
  done
  rm -f "$prefix/.installed"
  # claude and opencode ship a placeholder bin/*.exe that their postinstall replaces with the
  # native binary from the platform optionalDependency (already downloaded; no network).
  (cd "$prefix/node_modules/@anthropic-ai/claude-code" && node install.cjs)
  (cd "$prefix/node_modules/opencode-ai" && node postinstall.mjs)
  echo "install-engines: installed in $(( $(date +%s) - start ))s into $prefix"
fi

# Every CLI must at least print its version offline; a broken install fails here, not in a test.
# Even --version makes some of them create state dirs (~/.codex, ~/.gemini, opencode's XDG
# dirs), so they run with a throwaway HOME: the installing user's home stays untouched.
scratch_home=$(mktemp -d "$prefix/.home.XXXXXX") # not under /tmp: codex refuses helper binaries there
mkdir -p "$scratch_home/.codex"
trap 'rm -rf "$scratch_home"' EXIT
for b in "${bins[@]}"; do
  v=$(HOME=$scratch_home XDG_CONFIG_HOME=$scratch_home/.config XDG_DATA_HOME=$scratch_home/.local/share \
      XDG_STATE_HOME=$scratch_home/.local/state XDG_CACHE_HOME=$scratch_home/.cache \
      CODEX_HOME=$scratch_home/.codex npm_config_registry=http://127.0.0.1:9/ \
      timeout 60 "$prefix/node_modules/.bin/$b" --version </dev/null 2>&1 | head -n 1) || {
    echo "install-engines: '$b --version' failed: $v" >&2
    exit 1
  }
  echo "install-engines: $b $v"
done
printf '%s' "${pins[*]}" >"$prefix/.installed"
