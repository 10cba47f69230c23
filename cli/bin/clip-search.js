#!/usr/bin/env node
'use strict';
// Runs the compiled CLI (dist/, built by `pnpm build`, which the install script runs). For development
// on the TypeScript sources without a build: `pnpm dev:cli <command>` (tsx with the "source" condition).
try {
  require.resolve('../dist/main.js');
} catch {
  process.stderr.write('clip-search: not built yet; run `pnpm build` (or ./scripts/install.sh) first\n');
  process.exit(70);
}
require('../dist/main.js');
