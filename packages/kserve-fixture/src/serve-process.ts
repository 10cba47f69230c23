/**
 * Child process of bench/triton.ts (compiled: dist/serve-process.js): the KServe v2 fixture server on its own event loop and ONNX Runtime
 * threads, as Triton would be (another process), so the benchmark measures the gRPC path and not two
 * roles sharing one loop. Sends `{ url }` to the parent once listening; exits on 'stop'.
 *
 *   argv: <vision.onnx> <text.onnx> <max_batch_size> <intra-op threads>
 */
import { KServeFixtureServer } from './kserve-fixture-server';

async function serve(): Promise<void> {
  const [visionPath, textPath, maxBatch, threads] = process.argv.slice(2);
  if (!visionPath || !textPath || !process.send) throw new Error('run by bench/triton.ts');
  const maxBatchSize = Number(maxBatch);
  const server = await KServeFixtureServer.start({
    models: [
      { name: 'clip_vision', onnx: visionPath, maxBatchSize },
      { name: 'clip_text', onnx: textPath, maxBatchSize },
    ],
    intraOpThreads: Number(threads),
  });
  process.on('message', (message) => {
    if (message === 'stop') void server.close().then(() => process.exit(0));
  });
  process.send({ url: server.url });
}

serve().catch((error: unknown) => {
  process.stderr.write(
    `kserve server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
