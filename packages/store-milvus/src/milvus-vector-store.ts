import {
  type ConsistencyLevelEnum,
  type IndexDescription,
  LoadState,
  type MilvusClient,
} from '@zilliz/milvus2-sdk-node';

import {
  BackendUnavailableError,
  checkSearchRequest,
  InvalidInputError,
  type ItemRecord,
  type MetadataFilter,
  type ScanPage,
  type SearchHit,
  type SearchRequest,
  type VectorItem,
  type VectorStore,
} from '@clip-search/contracts';
import type { Logger } from '@clip-search/platform';
import {
  checkExistingCollection,
  collectionFields,
  describeIdentity,
  type ExistingField,
  FIELDS,
  RECORD_FIELDS,
} from './collection-layout';
import { bothOf, compileFilter, hasLoneSurrogate, quoteString } from './filter-expression';
import { batchesOf, encodeItems, recordOf } from './item-rows';
import { MilvusConnection } from './milvus-connection';
import {
  type MilvusStoreSettings,
  milvusStoreSettings,
  type MilvusVectorStoreOptions,
} from './milvus-store-options';
import {
  deeperWindow,
  type IndexInUse,
  indexInUse,
  indexParams,
  MILVUS_MAX_WINDOW,
  searchParams,
  windowFor,
} from './vector-index';

export type { MilvusIndexOptions, MilvusMetric, MilvusVectorStoreOptions } from './milvus-store-options';

/** The largest page `scan` serves, as in the other stores. */
const MAX_SCAN_LIMIT = 10_000;
/** Ids per `id in [...]` expression (get, getVector, delete). */
const IDS_PER_QUERY = 1_000;
/**
 * Consistency levels by name: protobufjs takes an enum's name, and the SDK's search replaces a level that
 * is falsy, as Strong's number (0) is, with the collection's default.
 */
const STRONG = 'Strong' as unknown as ConsistencyLevelEnum;
const BOUNDED = 'Bounded' as unknown as ConsistencyLevelEnum;
/** How often opening asks whether the collection has loaded. */
const LOAD_POLL_MS = 250;

type Row = Readonly<Record<string, unknown>>;

/**
 * Opens the store of `options.modelId` in Milvus: its collection (prefix + model id, or the one named),
 * created with the configured index when absent, and loaded. Refuses, with ModelMismatchError naming
 * both, a collection that holds another dimension or model; BackendUnavailableError when Milvus does not
 * answer within `connectTimeoutMs` or the collection does not load within `loadTimeoutMs`.
 */
export async function openMilvusVectorStore(options: MilvusVectorStoreOptions): Promise<MilvusVectorStore> {
  const settings = milvusStoreSettings(options);
  const connection = await MilvusConnection.open(
    {
      address: settings.address,
      token: settings.token,
      database: settings.database,
      callTimeoutMs: settings.callTimeoutMs,
      logger: settings.logger,
    },
    settings.connectTimeoutMs,
  );
  try {
    const index = await prepareCollection(connection, settings);
    return new MilvusVectorStore(connection, settings, index);
  } catch (error) {
    await connection.close();
    throw error;
  }
}

/**
 * The VectorStore of the distributed mode: one Milvus collection per model, shared by every gateway and
 * worker. Scores are Milvus's inner products (cosines: the vectors are unit length); filters are compiled
 * to expressions over each item's filterable copy (see filter-expression.ts); reads wait for this
 * store's own recent writes (see `readYourWritesMs`).
 */
export class MilvusVectorStore implements VectorStore {
  readonly dim: number;
  readonly modelId: string;
  /** The collection this store reads and writes. */
  readonly collection: string;
  private readonly logger: Logger;
  /** When this store's last write ended (Date.now()); reads within readYourWritesMs of it are Strong. */
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  /** Writes under way: close() waits for them. */
  private readonly writes = new Set<Promise<unknown>>();
  private closed = false;

  /** Use openMilvusVectorStore. */
  constructor(
    private readonly connection: MilvusConnection,
    private readonly settings: MilvusStoreSettings,
    private readonly index: IndexInUse,
  ) {
    this.dim = settings.identity.dim;
    this.modelId = settings.identity.modelId;
    this.collection = settings.collection;
    this.logger = settings.logger;
  }

  // ---- writes --------------------------------------------------------------------------------------------

  upsert(items: readonly VectorItem[]): Promise<void> {
    return this.write(async () => {
      // Every item is checked before any is written: a batch with one bad item writes nothing.
      const encoded = encodeItems(items, this.settings.identity);
      for (const batch of batchesOf(encoded, this.settings.maxRequestBytes)) {
        const result = await this.connection.call('upsert', (client) =>
          client.upsert({
            collection_name: this.collection,
            data: batch.map((item) => item.row),
          }),
        );
        this.connection.checkStatus('upsert', result.status);
      }
    });
  }

  delete(ids: readonly string[]): Promise<number> {
    return this.write(async () => {
      const wanted = distinctStorableIds(ids, 'delete takes an array of id strings');
      let deleted = 0;
      for (let at = 0; at < wanted.length; at += IDS_PER_QUERY) {
        // Milvus counts the ids it was given, not those that existed: they are looked up first.
        const existing = (await this.queryByIds(wanted.slice(at, at + IDS_PER_QUERY), [FIELDS.id])).map(
          (row) => row[FIELDS.id] as string,
        );
        if (existing.length === 0) continue;
        const result = await this.connection.call('delete', (client) =>
          client.delete({ collection_name: this.collection, filter: idsExpression(existing) }),
        );
        this.connection.checkStatus('delete', result.status);
        deleted += existing.length;
      }
      return deleted;
    });
  }

  // ---- reads ---------------------------------------------------------------------------------------------

  async get(ids: readonly string[]): Promise<(ItemRecord | undefined)[]> {
    this.assertOpen();
    const wanted = distinctStorableIds(ids, 'get takes an array of id strings');
    const found = new Map<string, Row>();
    for (let at = 0; at < wanted.length; at += IDS_PER_QUERY)
      for (const row of await this.queryByIds(wanted.slice(at, at + IDS_PER_QUERY), RECORD_FIELDS))
        found.set(row[FIELDS.id] as string, row);
    return ids.map((id) => {
      const row = found.get(id);
      return row && recordOf(row);
    });
  }

  async getVector(id: string): Promise<Float32Array | undefined> {
    this.assertOpen();
    if (typeof id !== 'string') throw new InvalidInputError('getVector takes an id string');
    if (hasLoneSurrogate(id)) return undefined;
    const [row] = await this.queryByIds([id], [FIELDS.vector]);
    const vector = row?.[FIELDS.vector];
    return Array.isArray(vector) ? Float32Array.from(vector as number[]) : undefined;
  }

  async count(filter?: MetadataFilter): Promise<number> {
    this.assertOpen();
    const compiled = compileFilter(filter);
    if (compiled.kind === 'none') return 0;
    const rows = await this.query('count', {
      expr: compiled.kind === 'some' ? compiled.expression : '',
      output_fields: ['count(*)'],
    });
    return Number(rows[0]?.['count(*)'] ?? 0);
  }

  /**
   * Items in id order (UTF-8 bytes, which is code point order): Milvus answers a query with a limit with
   * the smallest primary keys matching it, `id > after` resumes.
   */
  async scan(options: {
    readonly filter?: MetadataFilter;
    readonly after?: string;
    readonly limit: number;
  }): Promise<ScanPage> {
    this.assertOpen();
    const { filter, after, limit } = options;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SCAN_LIMIT)
      throw new InvalidInputError(`scan limit must be an integer from 1 to ${MAX_SCAN_LIMIT}`);
    if (after !== undefined && typeof after !== 'string')
      throw new InvalidInputError('scan `after` must be an id string');
    const compiled = compileFilter(filter);
    if (compiled.kind === 'none') return { items: [] };
    const expression = bothOf(
      compiled.kind === 'some' ? compiled.expression : undefined,
      after === undefined ? undefined : `${FIELDS.id} > ${quoteString(after)}`,
    );
    const rows = await this.query('scan', {
      expr: expression ?? '',
      output_fields: [...RECORD_FIELDS],
      limit: limit + 1,
    });
    const records = rows.map(recordOf).sort((a, b) => byCodePoint(a.id, b.id));
    if (records.length <= limit) return { items: records };
    const items = records.slice(0, limit);
    return { items, next: (items.at(-1) as ItemRecord).id };
  }

  /**
   * The page is cut from the top `windowFor(offset + k)` hits Milvus ranks, ordered by score then id;
   * that window is searched deeper while hits tied with the page's last one may lie beyond it.
   */
  async search(request: SearchRequest): Promise<SearchHit[]> {
    this.assertOpen();
    checkSearchRequest(request, this.dim);
    const { vector, k, offset = 0, minScore } = request;
    const wanted = offset + k;
    if (wanted > MILVUS_MAX_WINDOW)
      throw new InvalidInputError(
        `offset + k must be at most ${MILVUS_MAX_WINDOW} (Milvus's limit on offset + limit)`,
      );
    const compiled = compileFilter(request.filter);
    if (compiled.kind === 'none') return [];
    const query = Array.from(vector);
    let window = windowFor(wanted);
    let ranked: { id: string; score: number }[];
    for (;;) {
      ranked = await this.searchWindow(query, window, compiled.kind === 'some' ? compiled.expression : '');
      const next = deeperWindow(window);
      const edge = ranked[wanted - 1];
      // A full window whose last hit ties with the page's last may be hiding more of that tie.
      if (
        next === undefined ||
        ranked.length < window ||
        edge === undefined ||
        ranked.at(-1)?.score !== edge.score
      )
        break;
      window = next;
    }
    if (minScore !== undefined) ranked = ranked.filter((hit) => hit.score >= minScore);
    const page = ranked.slice(offset, wanted);
    if (page.length === 0) return [];
    const records = new Map<string, Row>();
    for (const row of await this.queryByIds(
      page.map((hit) => hit.id),
      RECORD_FIELDS,
    ))
      records.set(row[FIELDS.id] as string, row);
    const hits: SearchHit[] = [];
    for (const hit of page) {
      const row = records.get(hit.id);
      // Deleted between the search and the read: gone, as it would be a moment later.
      if (row !== undefined) hits.push({ score: Math.min(1, Math.max(-1, hit.score)), item: recordOf(row) });
    }
    return hits;
  }

  // ---- health and lifecycle ------------------------------------------------------------------------------

  /** Whether Milvus answers, calls itself healthy and has this store's collection loaded. */
  async health(): Promise<{ readonly ok: boolean; readonly detail?: string }> {
    if (this.closed) return { ok: false, detail: 'closed' };
    const milvus = await this.connection.health();
    if (!milvus.ok) return milvus;
    try {
      const state = await this.connection.call('load state', (client) =>
        client.getLoadState({ collection_name: this.collection }),
      );
      this.connection.checkStatus('load state', state.status);
      const loaded = state.state === LoadState.LoadStateLoaded;
      if (state.state === LoadState.LoadStateNotLoad) this.reload();
      return {
        ok: loaded,
        detail: `${milvus.detail}; collection ${this.collection} ${loaded ? 'loaded' : `not ready (${state.state})`}`,
      };
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }

  /** Waits for writes under way, then closes the connection; every later call is refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.writes]);
    await this.connection.close();
  }

  // ---- parts ---------------------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new BackendUnavailableError('the vector store is closed');
  }

  /** Runs a write, tracked for close() and for the consistency of the reads after it. */
  private async write<T>(body: () => Promise<T>): Promise<T> {
    this.assertOpen();
    const running = body();
    this.writes.add(running);
    try {
      return await running;
    } finally {
      this.writes.delete(running);
      this.lastWriteAt = Date.now();
    }
  }

  /** Strong right after this store's writes (they must be seen), Bounded otherwise (no wait). */
  private consistency(): ConsistencyLevelEnum {
    const { readYourWritesMs } = this.settings;
    // Infinity: Strong even before this store's first write (-Infinity, which no window reaches).
    return readYourWritesMs === Number.POSITIVE_INFINITY || Date.now() - this.lastWriteAt < readYourWritesMs
      ? STRONG
      : BOUNDED;
  }

  private async query(
    what: string,
    request: { readonly expr: string; readonly output_fields: string[]; readonly limit?: number },
  ): Promise<Row[]> {
    const consistency = this.consistency();
    const result = await this.connection.call(what, (client: MilvusClient) =>
      client.query({ collection_name: this.collection, consistency_level: consistency, ...request }),
    );
    this.connection.checkStatus(what, result.status);
    return result.data as Row[];
  }

  private queryByIds(ids: readonly string[], fields: readonly string[]): Promise<Row[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.query('get', { expr: idsExpression(ids), output_fields: [...fields] });
  }

  /** The top `window` ids and scores for `query`, best first, equal scores in id order. */
  private async searchWindow(
    query: number[],
    window: number,
    expression: string,
  ): Promise<{ id: string; score: number }[]> {
    const consistency = this.consistency();
    const result = await this.connection.call('search', (client) =>
      client.search({
        collection_name: this.collection,
        data: query,
        anns_field: FIELDS.vector,
        limit: window,
        filter: expression,
        output_fields: [FIELDS.id],
        metric_type: this.index.metric,
        params: searchParams(this.index, this.settings.index, window),
        consistency_level: consistency,
      }),
    );
    this.connection.checkStatus('search', result.status);
    const hits = (result.results as unknown as readonly { id: unknown; score: unknown }[]).map((hit) => ({
      id: String(hit.id),
      score: Number(hit.score),
    }));
    // Ties in UTF-16 order, as the other stores break them.
    return hits.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Asks Milvus to load the collection again (after a restart that left it released), in the background. */
  private reload(): void {
    this.connection
      .call('load', (client) => client.loadCollectionAsync({ collection_name: this.collection }))
      .then(
        (status) => {
          this.connection.checkStatus('load', status);
        },
        (error: unknown) => {
          this.logger.warn('reloading the Milvus collection failed', {
            collection: this.collection,
            error: (error as Error).message,
          });
        },
      );
  }
}

/** The collection of `settings`, created when absent, checked, loaded; the index it has. */
async function prepareCollection(
  connection: MilvusConnection,
  settings: MilvusStoreSettings,
): Promise<IndexInUse> {
  const name = settings.collection;
  const exists = await connection.call('hasCollection', (client) =>
    client.hasCollection({ collection_name: name }),
  );
  connection.checkStatus('hasCollection', exists.status);
  if (exists.value !== true) await createCollection(connection, settings);
  const described = await connection.call('describeCollection', (client) =>
    client.describeCollection({ collection_name: name }),
  );
  connection.checkStatus('describeCollection', described.status);
  checkExistingCollection(
    name,
    described.schema.description,
    described.schema.fields as unknown as readonly ExistingField[],
    settings.identity,
  );
  const index = await existingIndex(connection, name);
  const inUse = index ?? (await createIndex(connection, settings));
  await loadCollection(connection, settings);
  settings.logger.info('Milvus vector store opened', {
    address: settings.address,
    collection: name,
    index: inUse.type,
    metric: inUse.metric,
  });
  return inUse;
}

async function createCollection(connection: MilvusConnection, settings: MilvusStoreSettings): Promise<void> {
  const status = await connection.call('createCollection', (client) =>
    client.createCollection({
      collection_name: settings.collection,
      description: describeIdentity(settings.identity),
      fields: collectionFields(settings.identity.dim),
      // Reads choose their own level (see MilvusVectorStore.consistency); this is for other clients.
      consistency_level: 'Bounded',
    }),
  );
  // Another gateway may have created it meanwhile: the description check that follows decides.
  if (!/already exist/i.test(status.reason)) connection.checkStatus('createCollection', status);
}

async function existingIndex(connection: MilvusConnection, name: string): Promise<IndexInUse | undefined> {
  const described = await connection.call('describeIndex', (client) =>
    client.describeIndex({ collection_name: name, field_name: FIELDS.vector }),
  );
  // No index yet is an error status (IndexNotExist), not an empty list.
  const [index] = (described.index_descriptions as IndexDescription[] | undefined) ?? [];
  if (described.status.error_code !== 'Success' || index === undefined) return undefined;
  return indexInUse(index.params as readonly { key: string; value: string }[]);
}

async function createIndex(connection: MilvusConnection, settings: MilvusStoreSettings): Promise<IndexInUse> {
  const params = indexParams(settings.index, settings.metric);
  const status = await connection.call('createIndex', (client) =>
    client.createIndex({ collection_name: settings.collection, field_name: FIELDS.vector, ...params }),
  );
  connection.checkStatus('createIndex', status);
  return { type: params.index_type, metric: params.metric_type };
}

/** Asks Milvus to load the collection and waits until it has, up to loadTimeoutMs. */
async function loadCollection(connection: MilvusConnection, settings: MilvusStoreSettings): Promise<void> {
  const name = settings.collection;
  const status = await connection.call('load', (client) =>
    client.loadCollectionAsync({ collection_name: name }),
  );
  connection.checkStatus('load', status);
  const deadline = Date.now() + settings.loadTimeoutMs;
  for (;;) {
    const state = await connection.call('load state', (client) =>
      client.getLoadState({ collection_name: name }),
    );
    connection.checkStatus('load state', state.status);
    if (state.state === LoadState.LoadStateLoaded) return;
    if (Date.now() > deadline)
      throw new BackendUnavailableError(
        `Milvus collection "${name}" did not load within ${settings.loadTimeoutMs} ms (${state.state})`,
      );
    await new Promise((resolve) => setTimeout(resolve, LOAD_POLL_MS));
  }
}

/** `id in [...]`, every id quoted. */
function idsExpression(ids: readonly string[]): string {
  return `${FIELDS.id} in [${ids.map(quoteString).join(', ')}]`;
}

/**
 * The distinct ids of `ids` that Milvus can hold (a string with a lone surrogate cannot be stored, so it
 * is known to be absent). InvalidInputError with `message` when `ids` is not an array of strings.
 */
function distinctStorableIds(ids: unknown, message: string): string[] {
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) throw new InvalidInputError(message);
  return [...new Set(ids)].filter((id) => !hasLoneSurrogate(id));
}

/** Code point order (UTF-8 bytes): how Milvus orders VarChar primary keys. */
function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
