/**
 * Settings of the Triton adapter, as typed values. What a user can set (the address, the model names and
 * version, the two deadlines) is validated and mapped by the config layer; their defaults are
 * TRITON_SETTING_DEFAULTS of the contracts, which the config table publishes and `tritonConfig` fills in,
 * so each has one default. The rest is tuning no setting reaches. Tests and benchmarks build a config
 * with `tritonConfig({ url })`.
 */
import { ConfigError, TRITON_SETTING_DEFAULTS } from '@clip-search/contracts';

/** The adapter's whole configuration. Its own fields are what the config table sets. */
export interface TritonConfig extends TritonTuning {
  /** Triton's gRPC endpoint, `host:port` (default port 8001); a `grpc://` prefix is accepted. */
  readonly url: string;
  /** Model names in Triton's repository (triton-model-repo/: `clip_vision`, `clip_text`). */
  readonly visionModel: string;
  readonly textModel: string;
  /** A version number as a string; empty lets Triton pick by the model's version policy (the latest). */
  readonly modelVersion: string;
  /** Deadline of one ModelInfer attempt. */
  readonly inferDeadlineMs: number;
  /**
   * How long `connect` waits for the server and both models to become ready (Triton loads models for a
   * while after start; compose starts both at once). 0: one try.
   */
  readonly connectTimeoutMs: number;
}

/** Tuning that no setting reaches: TRITON_TUNING_DEFAULTS are its only defaults. */
export interface TritonTuning {
  /** Deadline of a health, metadata or config call. */
  readonly probeDeadlineMs: number;
  /** ModelInfer requests in flight at once, across both models (a batch above max_batch_size is split). */
  readonly maxInFlight: number;
  /** Retries of one request after UNAVAILABLE or DEADLINE_EXCEEDED (nothing else is retried). */
  readonly maxRetries: number;
  /** Backoff before retry k is about base × 2^k, capped, with jitter. */
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  /**
   * The batch cap when a model's config says max_batch_size 0 (Triton does not batch it, the ONNX graph
   * takes any batch): one request never carries more rows than this.
   */
  readonly unbatchedMaxBatchSize: number;
  /**
   * HTTP/2 keepalive pings while calls are open: a dead peer (a crashed node, a dropped NAT entry) is
   * noticed within time + timeout instead of at the next deadline. Triton's server must allow pings this
   * often (`--grpc-keepalive-*` / `--grpc-http2-min-recv-ping-interval-without-data`); its default minimum is
   * 5 minutes between pings without data, so keep this at 60 s or above unless the server is configured.
   */
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  /** Cap of the channel's reconnect backoff: how soon the adapter notices that Triton is back. */
  readonly reconnectBackoffMaxMs: number;
}

export const TRITON_TUNING_DEFAULTS: TritonTuning = {
  probeDeadlineMs: 2_000,
  maxInFlight: 4,
  maxRetries: 2,
  retryBaseDelayMs: 50,
  retryMaxDelayMs: 1_000,
  unbatchedMaxBatchSize: 32,
  keepaliveTimeMs: 60_000,
  keepaliveTimeoutMs: 20_000,
  reconnectBackoffMaxMs: 2_000,
};

/**
 * Refuses values the adapter cannot work with, listing every bad one. Values from the environment were
 * checked by the config table already (naming the variable); this guards configs built in code, so its
 * messages name the field, not a variable.
 */
export function checkTritonConfig(config: TritonConfig): void {
  const problems: string[] = [];
  if (tritonTarget(config.url).length === 0)
    problems.push(`url: expected host:port of Triton's gRPC endpoint, got ${JSON.stringify(config.url)}`);
  if (config.visionModel.length === 0) problems.push('visionModel: must not be empty');
  if (config.textModel.length === 0) problems.push('textModel: must not be empty');
  if (!/^(\d+)?$/.test(config.modelVersion))
    problems.push(
      `modelVersion: expected a version number or nothing, got ${JSON.stringify(config.modelVersion)}`,
    );
  const positive: (keyof TritonConfig)[] = [
    'inferDeadlineMs',
    'probeDeadlineMs',
    'maxInFlight',
    'unbatchedMaxBatchSize',
  ];
  const nonNegative: (keyof TritonConfig)[] = [
    'connectTimeoutMs',
    'maxRetries',
    'retryBaseDelayMs',
    'retryMaxDelayMs',
    'keepaliveTimeMs',
    'keepaliveTimeoutMs',
    'reconnectBackoffMaxMs',
  ];
  for (const key of positive) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
      problems.push(`${key}: expected an integer ≥ 1`);
  }
  for (const key of nonNegative) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
      problems.push(`${key}: expected an integer ≥ 0`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/** A complete config from the URL and any overrides; everything else takes its one default. */
export function tritonConfig(settings: Partial<TritonConfig> & Pick<TritonConfig, 'url'>): TritonConfig {
  return { ...TRITON_SETTING_DEFAULTS, ...TRITON_TUNING_DEFAULTS, ...settings };
}

/** `grpc://host:port` or `host:port` → the target grpc-js dials. */
export function tritonTarget(url: string): string {
  return url.replace(/^grpc:\/\//, '').replace(/\/+$/, '');
}
