import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The repository root and the read-only `shared/` material beside it (benchmarks may require it). */
export const REPO_ROOT = path.resolve(__dirname, '../..');
export const SHARED_DIR = process.env['CLIP_SEARCH_SHARED_DIR'] ?? path.resolve(REPO_ROOT, '../shared');

export function requireShared(what: string): string {
  const p = path.join(SHARED_DIR, what);
  if (!fs.existsSync(p)) {
    throw new Error(`This benchmark needs ${p} (the project's shared/ folder beside the repository).`);
  }
  return p;
}

/**
 * The full-size synthetic CLIP ViT-B/32 (random weights, the compute of the real model), generated once
 * into .bench/models/ by shared/tools/make-synthetic-clip (never committed: ~600 MB).
 */
export function syntheticVitB32(): string {
  const dir = path.join(REPO_ROOT, '.bench/models/vit-b-32');
  if (!fs.existsSync(path.join(dir, 'model.json'))) {
    const tool = requireShared('tools/make-synthetic-clip');
    process.stderr.write(`Generating the synthetic ViT-B/32 into ${dir} (once, about a minute)…\n`);
    execFileSync(tool, ['--size', 'vit-b-32', '--out', dir], { stdio: 'inherit' });
  }
  return dir;
}

/** `count` Caltech-101 photos spread over every class (every n-th line of labels.csv). */
export function caltechImages(count: number): string[] {
  const root = requireShared('data/caltech101');
  const lines = fs.readFileSync(path.join(root, 'labels.csv'), 'utf8').trim().split('\n').slice(1);
  const step = Math.max(1, Math.floor(lines.length / count));
  const files: string[] = [];
  for (let i = 0; i < lines.length && files.length < count; i += step) {
    const file = lines[i]?.split(',')[0];
    if (file !== undefined) files.push(path.join(root, file));
  }
  return files;
}

export function caltechPrompts(): string[] {
  const prompts = JSON.parse(fs.readFileSync(requireShared('data/caltech101/clip_prompts.json'), 'utf8')) as {
    classes: string[];
  };
  return prompts.classes.map((c) => `a photo of a ${c}.`);
}
