#!/usr/bin/env node
'use strict';
// `pnpm bench <name> [args…]` runs bench/<name>.ts (its default export, given the remaining args).
// Benchmarks print ratios measured side by side in one run; they are never part of `pnpm test`.
require('tsx/cjs');
const fs = require('node:fs');
const path = require('node:path');

const [name, ...args] = process.argv.slice(2);
const available = fs
  .readdirSync(__dirname)
  .filter((f) => f.endsWith('.ts') && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: pnpm bench <${available.join('|')}> [options]\n`);
  process.exit(2);
}
const mod = require(path.join(__dirname, `${name}.ts`));
Promise.resolve(mod.default(args)).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`bench ${name}: ${error && error.stack ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
