#!/usr/bin/env bash
# The main job, offline and without API keys: a scratch repository, `godzilla init`, a
# protocol created from two step files, and `godzilla status`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
gz=${GODZILLA:-"$here/target/release/godzilla"}
[ -x "$gz" ] || gz="$here/target/debug/godzilla"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
git init -q -b main repo && cd repo
git -c user.name=demo -c user.email=demo@example.com commit -q --allow-empty -m "initial"
"$gz" init
git add -A && git -c user.name=demo -c user.email=demo@example.com commit -q -m "godzilla init"
mkdir "$scratch/steps"
printf '# Write the greeting module\n\nCreate src/greet.rs with a greet(name) function.\n' >"$scratch/steps/01-greet.md"
printf '# Test it\n\nAdd a unit test for greet.\n' >"$scratch/steps/02-test.md"
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@example.com GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@example.com
"$gz" protocol new "greeting" -d "Add a greeting module with tests" --steps-from "$scratch/steps"
"$gz" status
"$gz" fsck
git log --oneline --all
