/**
 * A promise-based client of our KServe v2 service over one grpc-js channel. It knows nothing about CLIP:
 * the adapter decides what to call; this file decides how a call travels (deadline, channel options).
 */
import * as grpc from '@grpc/grpc-js';
import { type KServeMethodName, type KServeMethods, loadKServeProto } from '@clip-search/protos';

export interface KServeChannelOptions {
  /** `host:port`. */
  readonly target: string;
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly reconnectBackoffMaxMs: number;
  /** Largest message this client sends / accepts; undefined keeps grpc-js's defaults (send unlimited, receive 4 MiB). */
  readonly maxSendBytes?: number;
  readonly maxReceiveBytes?: number;
}

export class KServeClient {
  private readonly client: grpc.Client;
  private readonly proto = loadKServeProto();

  constructor(readonly options: KServeChannelOptions) {
    const channelOptions: grpc.ChannelOptions = {
      'grpc.keepalive_time_ms': options.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs,
      // Pings only while calls are open: Triton refuses (GOAWAY too_many_pings) idle pings by default.
      'grpc.keepalive_permit_without_calls': 0,
      'grpc.initial_reconnect_backoff_ms': Math.min(100, options.reconnectBackoffMaxMs),
      'grpc.max_reconnect_backoff_ms': options.reconnectBackoffMaxMs,
      // A channel of its own: another client's subchannel in backoff must not hold this one back.
      'grpc.use_local_subchannel_pool': 1,
    };
    if (options.maxSendBytes !== undefined)
      channelOptions['grpc.max_send_message_length'] = options.maxSendBytes;
    if (options.maxReceiveBytes !== undefined) {
      channelOptions['grpc.max_receive_message_length'] = options.maxReceiveBytes;
    }
    this.client = new grpc.Client(options.target, grpc.credentials.createInsecure(), channelOptions);
  }

  /** One unary call; rejects with grpc-js's ServiceError (`code`, `details`). */
  call<M extends KServeMethodName>(
    method: M,
    request: KServeMethods[M][0],
    deadlineMs: number,
  ): Promise<KServeMethods[M][1]> {
    const definition = this.proto.method(method);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize,
        definition.responseDeserialize,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + deadlineMs },
        (error, response) => {
          if (error) reject(error);
          else if (response === undefined) reject(new Error(`${method}: empty response`));
          else resolve(response);
        },
      );
    });
  }

  /** The channel's state; `connect` asks an idle channel to start connecting. */
  state(connect = false): grpc.connectivityState {
    return this.client.getChannel().getConnectivityState(connect);
  }

  close(): void {
    this.client.close();
  }
}
