#!/usr/bin/env node
'use strict';
// Runs the TypeScript sources directly (tsx compiles on load, with a disk cache), so there is no build step.
// The gateway's controllers use TypeScript decorators, which tsx compiles only with the repository's
// tsconfig (experimentalDecorators): name it, so `clip-search serve` works from any directory.
process.env.TSX_TSCONFIG_PATH ??= require('node:path').join(__dirname, '../../tsconfig.json');
require('tsx/cjs');
require('../src/main.ts');
