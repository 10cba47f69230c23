/**
 * `@clip-search/gateway`: the HTTP API as a library, for the CLI's `serve` and for tools that start a
 * gateway in their own process.
 */
export { serveUntilSignal, startServer, type RunningServer, type StartServerOptions } from './server';
