import winston from 'winston';

export type Logger = winston.Logger;

export interface LoggerOptions {
  readonly level: string;
  readonly format: 'json' | 'pretty';
  /** Service name on every line (`gateway`, `ingest-worker`, `cli`). */
  readonly service: string;
}

/**
 * Structured logs: one JSON object per line (timestamp, level, service, message, fields) so that
 * Elasticsearch/Kibana index them without parsing; `pretty` for a terminal. Logs go to stderr, so the
 * CLI's stdout stays machine-readable.
 */
export function createLogger(options: LoggerOptions): Logger {
  // winston's transports and its `transports` option are typed from two copies of winston-transport:
  // the same class at run time, which the type-aware lint cannot see.
  /* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
  const base = [winston.format.timestamp(), winston.format.errors({ stack: true })];
  const format =
    options.format === 'json'
      ? winston.format.combine(...base, winston.format.json())
      : winston.format.combine(
          ...base,
          winston.format.colorize(),
          winston.format.printf(({ timestamp, level, message, service: _service, ...rest }) => {
            const fields = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
            return `${String(timestamp)} ${level} ${String(message)}${fields}`;
          }),
        );
  return winston.createLogger({
    level: options.level,
    defaultMeta: { service: options.service },
    format,
    transports: [new winston.transports.Console({ stderrLevels: Object.keys(winston.config.npm.levels) })],
  });
  /* eslint-enable @typescript-eslint/no-unsafe-class-instance-assignment */
}

/** A logger that drops everything (tests, library defaults). */
export function createSilentLogger(): Logger {
  return winston.createLogger({
    silent: true,
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- see createLogger
    transports: [new winston.transports.Console({ silent: true })],
  });
}
