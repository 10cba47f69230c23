import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { EmbeddedIngestQueue } from '../src/embedded-ingest-queue';
import { IngestPipeline } from '@clip-search/ingest';
import { SourceResolver } from '@clip-search/ingest';
import { itemIdForUri } from '@clip-search/contracts';
import { scanAll } from '@clip-search/contracts/testing';
import { GatedEmbedder, REPO_ROOT, writeGeneratedImages } from '@clip-search/ingest/testing';
import { openStore } from '@clip-search/store-embedded/testing';
import { openTinyEmbedder } from '@clip-search/embedder-onnx/testing';

jest.setTimeout(180_000);

const FILES = 200;
const HOLD_AFTER = 64;

interface ChildRun {
  readonly jobId: string;
  readonly acked: string[];
  readonly signal: NodeJS.Signals | null;
}

/** Runs crash-child.ts until it holds its embedder mid-job, then kills it with SIGKILL. */
function runChildUntilHeldThenKill(dataDir: string, corpus: string): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        path.join(__dirname, 'crash-child.ts'),
        dataDir,
        corpus,
        String(HOLD_AFTER),
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let jobId = '';
    const acked: string[] = [];
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('JOB ')) jobId = line.slice(4);
      else if (line.startsWith('ACKED ')) acked.push(...line.slice(6).split(','));
      else if (line === 'HELD') child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ jobId, acked, signal });
      else reject(new Error(`crash-child exited with ${code}: ${stderr}`));
    });
  });
}

test('an ingest killed with SIGKILL mid-job resumes on reopen: every file once, nothing acknowledged lost', async () => {
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-crash-')));
  const dataDir = path.join(tmp, 'data');
  const corpus = path.join(tmp, 'corpus');
  try {
    const files = await writeGeneratedImages(corpus, FILES);
    const expectedIds = files.map((file) => itemIdForUri(pathToFileURL(file).href)).sort();

    const run = await runChildUntilHeldThenKill(dataDir, corpus);
    expect(run.jobId).not.toBe('');
    // Killed mid-job: some batches were acknowledged, far from all.
    expect(run.acked.length).toBeGreaterThanOrEqual(HOLD_AFTER - 16);
    expect(run.acked.length).toBeLessThan(FILES);

    const embedder = new GatedEmbedder(await openTinyEmbedder());
    const store = await openStore(dataDir, embedder);
    try {
      // What the store acknowledged before the kill survived it.
      const survivors = await store.get(run.acked);
      expect(survivors.filter((record) => record === undefined)).toHaveLength(0);

      const queue = await EmbeddedIngestQueue.open({
        dataDir,
        pipeline: new IngestPipeline({ embedder, store }),
        sources: SourceResolver.localFolders([corpus]),
      });
      try {
        const done = await queue.whenSettled(run.jobId);
        expect(done).toMatchObject({
          id: run.jobId,
          state: 'completed',
          total: FILES,
          processed: FILES,
          failed: 0,
        });
        // The items stored before the crash were skipped, not embedded again.
        expect(done!.skipped).toBeGreaterThanOrEqual(run.acked.length);
        expect(embedder.images).toBe(FILES - done!.skipped);
        // The resumed job is the same job: no new one appeared.
        expect((await queue.list()).map((job) => job.id)).toEqual([run.jobId]);
      } finally {
        await queue.close();
      }

      // Every file indexed exactly once.
      expect(await store.count()).toBe(FILES);
      const records = await scanAll(store, 64);
      expect(records.map((record) => record.id).sort()).toEqual(expectedIds);
      expect(new Set(records.map((record) => record.uri)).size).toBe(FILES);
    } finally {
      await store.close();
      await embedder.close();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
