#!/usr/bin/env node
'use strict';
// Runs the TypeScript sources directly (tsx compiles on load, with a disk cache), so there is no build step.
require('tsx/cjs');
require('../src/main.ts');
