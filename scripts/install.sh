#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine with Node.js 20+ (and nothing else of ours).
# The README's first command runs this; so does CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=$(node -p "require('./package.json').packageManager.split('@')[1]")
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$PNPM_VERSION" ]; then
  echo "Installing pnpm $PNPM_VERSION (npm install -g)…"
  npm install -g "pnpm@$PNPM_VERSION" --no-audit --no-fund --loglevel=error
fi

# onnxruntime-node: its CPU binary ships in the package; its install script only downloads CUDA files
# (and fails offline). pnpm-workspace.yaml denies that script; this covers npm/yarn users too.
export ONNXRUNTIME_NODE_INSTALL=skip
export ONNXRUNTIME_NODE_INSTALL_CUDA=skip
# Native addons (better-sqlite3, usearch, hnswlib-node) compile with node-gyp. Where Node's headers are
# installed system-wide, use them instead of downloading a headers tarball.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ]; then
  export npm_config_nodedir=/usr
fi

if [ "${CI:-}" = "true" ]; then
  pnpm install --frozen-lockfile
else
  pnpm install
fi

# Compile every package to dist/ (tsc -b: incremental, in dependency order). The CLI and the gateway run
# the compiled JavaScript; tsx is for development only.
pnpm build

# The pre-commit hook (package.json "simple-git-hooks": Prettier and ESLint on the staged files, then the
# typecheck). Only where this folder is the top of a git work tree, and not in CI: CI runs in a fresh clone
# where nobody commits, a tarball or container build has no .git, and a copy vendored inside another
# repository must not change that repository's hooks. Skip it once with `git commit --no-verify`.
if [ "${CI:-}" != "true" ] && command -v git >/dev/null 2>&1 &&
  [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
  pnpm exec simple-git-hooks
fi
