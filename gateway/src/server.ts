import fsp from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { ClipSearchError, ConfigError, type IngestJobStatus } from '@clip-search/contracts';
import { dataPaths, type AppConfig } from '@clip-search/config';
import { createApp } from './app/create-app';
import { createContainer, type ContainerOptions, type GatewayContainer } from './app/container';
import { prepareDataDir } from './app/data-dir';

export interface StartServerOptions extends ContainerOptions {
  /** Queue an ingest of `config.ingest.corpusDir` once the backends are ready (default true). */
  readonly indexCorpusAtStart?: boolean;
  /** In-flight requests get this long to finish at shutdown before their connections are cut (default 10 s). */
  readonly drainTimeoutMs?: number;
}

export interface RunningServer {
  /** `http://host:port`, with the port actually bound (PORT=0 picks a free one). */
  readonly url: string;
  readonly server: http.Server;
  readonly container: GatewayContainer;
  /** Resolves when the backends are open (and the corpus queued); rejects when they cannot open. */
  readonly ready: Promise<void>;
  /** Graceful stop: refuse new connections, drain requests, then close queue, store and embedder. */
  close(): Promise<void>;
}

/** The canonical source URI the ingest queue reports for a folder (`file:///real/dir/`). */
async function folderSourceUri(dir: string): Promise<string> {
  const real = await fsp.realpath(dir).catch(() => dir);
  const href = pathToFileURL(real).href;
  return href.endsWith('/') ? href : `${href}/`;
}

/**
 * Indexes the corpus folder at start: the bundled demo photos, or CORPUS_DIR / `--corpus`. Unchanged
 * files are skipped, so a restart costs a listing; `sweep` drops items whose files were deleted. A job
 * already queued or running for the folder (resumed after a crash) is not doubled.
 */
async function indexCorpus(container: GatewayContainer): Promise<IngestJobStatus | undefined> {
  const { config, logger } = container;
  const { queue } = container.backends.require();
  const source = await folderSourceUri(config.ingest.corpusDir);
  const pending = (await queue.list({ limit: 100 })).find(
    (job) => job.source === source && (job.state === 'queued' || job.state === 'active'),
  );
  if (pending !== undefined) {
    logger.info('Corpus ingest already pending', { jobId: pending.id, source });
    return pending;
  }
  try {
    const job = await queue.enqueue({ source, sweep: true });
    logger.info('Indexing the corpus folder', { jobId: job.id, source });
    return job;
  } catch (error) {
    // A missing or forbidden corpus must not take search down: the index still serves what it has.
    if (!(error instanceof ClipSearchError)) throw error;
    logger.error('Cannot index the corpus folder', { source, error: error.message });
    return undefined;
  }
}

function listen(server: http.Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE' || error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL'
          ? new ConfigError([`HOST=${host} PORT=${port}: cannot listen (${error.code})`])
          : error,
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Builds the container and the app and listens at once — /healthz answers while the model loads, the
 * rest says 503 until `ready`.
 */
export async function startServer(
  config: AppConfig,
  options: StartServerOptions = {},
): Promise<RunningServer> {
  // Before the model loads and anything opens under it: a bad DATA_DIR is a configuration mistake (78).
  const { vectors, thumbnails } = dataPaths(config.dataDir);
  prepareDataDir(config.dataDir, [vectors, thumbnails]);
  const container = createContainer(config, options);
  const app = createApp(container);
  const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = config.server;
  const server = http.createServer(
    {
      // A client that trickles its headers or body holds a socket and a parser: both are cut at a deadline
      // (408), checked often enough for the deadline to mean what it says.
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      keepAliveTimeout: keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, headersTimeoutMs / 2),
    },
    app,
  );
  let address: AddressInfo;
  try {
    address = await listen(server, config.server.host, config.server.port);
  } catch (error) {
    await container.close();
    throw error;
  }
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const ready = container.backends.ready.then(async () => {
    if (options.indexCorpusAtStart ?? true) await indexCorpus(container);
  });
  ready.catch(() => undefined); // reported to whoever awaits it; never unhandled

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const drained = new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      server.closeIdleConnections();
      const timer = setTimeout(() => {
        server.closeAllConnections();
      }, options.drainTimeoutMs ?? 10_000);
      try {
        await drained;
      } finally {
        clearTimeout(timer);
      }
      await container.close();
    })();
    return closing;
  };
  return { url: `http://${host}:${address.port}`, server, container, ready, close };
}

/** Signals this soon after the first are duplicates of it (see `exitNow`). */
const DUPLICATE_SIGNAL_MS = 2000;

/**
 * Runs the gateway until SIGTERM or SIGINT, then shuts down gracefully (a second signal exits at once).
 * Resolves after a clean stop; when the model or the store cannot be opened, shuts down and rejects with
 * that error (a bad CLIP_MODEL_DIR should end `clip-search serve`, not leave a server answering 503).
 */
export async function serveUntilSignal(config: AppConfig, options: StartServerOptions = {}): Promise<void> {
  const running = await startServer(config, options);
  const { logger } = running.container;
  logger.info('Listening', { url: running.url, docs: `${running.url}/docs` });
  return new Promise<void>((resolve, reject) => {
    let stopping = false;
    let firstSignalAt = 0;
    const stop = (reason: string, failure?: unknown) => {
      if (stopping) return;
      stopping = true;
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      firstSignalAt = Date.now();
      process.once('SIGTERM', exitNow);
      process.once('SIGINT', exitNow);
      logger.info('Shutting down', { reason });
      running.close().then(
        () => {
          logger.info('Stopped');
          if (failure === undefined) resolve();
          else reject(failure instanceof Error ? failure : new Error(describe(failure)));
        },
        (error: unknown) => {
          logger.error('Shutdown failed', { error: error instanceof Error ? error.stack : String(error) });
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    };
    const onSignal = (signal: NodeJS.Signals) => {
      stop(signal);
    };
    const exitNow = (signal: NodeJS.Signals) => {
      // A terminal's Ctrl-C reaches the whole process group, and wrappers (pnpm, timeout) forward it
      // too: a duplicate right after the first is not a person insisting.
      if (Date.now() - firstSignalAt < DUPLICATE_SIGNAL_MS) {
        process.once(signal, exitNow);
        return;
      }
      logger.warn('Second signal: exiting without draining', { signal });
      process.exit(130);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    running.ready.then(
      () => {
        logger.info('Ready', { url: running.url });
      },
      (error: unknown) => {
        logger.error('The model or the store could not be opened', {
          error: error instanceof Error ? error.message : String(error),
        });
        stop('startup failure', error);
      },
    );
  });
}

function describe(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
