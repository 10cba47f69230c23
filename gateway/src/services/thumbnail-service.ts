import { createHash, randomUUID } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { renderThumbnail } from '@clip-search/clip';
import { type ItemRecord } from '@clip-search/contracts';
import { type Logger } from '@clip-search/platform';
import { PayloadTooLargeError } from '../http/http-errors';
import type { OriginalImages } from './original-image';

export interface ThumbnailServiceOptions {
  /** Where rendered thumbnails are kept (`<DATA_DIR>/thumbnails`). */
  readonly cacheDir: string;
  /** Longer side in pixels (default 256). */
  readonly size?: number;
  /** Decompression-bomb limit, as for embedding (MAX_IMAGE_PIXELS). */
  readonly maxPixels: number;
  /** Originals larger than this are not read for a thumbnail (default 256 MiB). */
  readonly maxSourceBytes?: number;
  /** Where originals are read from, confined to the allowed roots. */
  readonly originals: OriginalImages;
  readonly logger: Logger;
}

export interface ThumbnailImage {
  readonly data: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

/**
 * Small JPEG previews of items, rendered on first request and cached on disk under
 * `<cacheDir>/<id[0..2]>/<id>-<version>.jpg`, where `version` hashes the item's content hash and the
 * size: a re-ingested (changed) image gets a new file and a new ETag, and deleting an item removes its
 * files. Concurrent requests for the same thumbnail share one rendering.
 */
export class ThumbnailService {
  private readonly size: number;
  private readonly maxSourceBytes: number;
  private readonly rendering = new Map<string, Promise<Buffer>>();

  constructor(private readonly options: ThumbnailServiceOptions) {
    this.size = options.size ?? 256;
    this.maxSourceBytes = options.maxSourceBytes ?? 256 * 1024 * 1024;
  }

  /** The ETag of an item's thumbnail, known without rendering it (for If-None-Match). */
  etag(item: ItemRecord): string {
    return `"${this.version(item)}"`;
  }

  async thumbnail(item: ItemRecord): Promise<ThumbnailImage> {
    const version = this.version(item);
    const file = this.fileOf(item.id, version);
    let pending = this.rendering.get(file);
    if (pending === undefined) {
      pending = this.readOrRender(item, file).finally(() => this.rendering.delete(file));
      this.rendering.set(file, pending);
    }
    return { data: await pending, contentType: 'image/jpeg', etag: `"${version}"` };
  }

  /** Deletes every cached thumbnail of an item. */
  async forget(id: string): Promise<void> {
    const name = safeName(id);
    const dir = this.dirOf(name);
    const prefix = `${name}-`;
    const names = await fsp.readdir(dir).catch(() => [] as string[]);
    await Promise.all(
      names.filter((n) => n.startsWith(prefix)).map((n) => fsp.rm(path.join(dir, n), { force: true })),
    );
  }

  private async readOrRender(item: ItemRecord, file: string): Promise<Buffer> {
    const cached = await fsp.readFile(file).catch(() => undefined);
    if (cached !== undefined) return cached;
    const original = await this.options.originals.open(item);
    let bytes: Buffer;
    try {
      if (original.size > this.maxSourceBytes)
        throw new PayloadTooLargeError(`The original of item ${item.id} is too large for a thumbnail`);
      bytes = await original.handle.readFile();
    } finally {
      await original.handle.close();
    }
    const thumbnail = await renderThumbnail(bytes, { size: this.size, maxPixels: this.options.maxPixels });
    await this.store(file, thumbnail.data);
    return thumbnail.data;
  }

  /** Write-then-rename, so a crash or a concurrent reader never sees half a file. */
  private async store(file: string, data: Buffer): Promise<void> {
    try {
      await fsp.mkdir(path.dirname(file), { recursive: true });
      const temporary = `${file}.${randomUUID()}.tmp`;
      await fsp.writeFile(temporary, data);
      await fsp.rename(temporary, file);
    } catch (error) {
      // The cache is an optimisation: a full disk must not fail the request.
      this.options.logger.warn('Cannot cache a thumbnail', { file, error: (error as Error).message });
    }
  }

  private version(item: Pick<ItemRecord, 'contentHash'>): string {
    return createHash('sha256').update(`${item.contentHash}\0${this.size}`).digest('hex').slice(0, 16);
  }

  /** The folder of an item's thumbnails, by its safe name. */
  private dirOf(name: string): string {
    return path.join(this.options.cacheDir, name.slice(0, 2));
  }

  private fileOf(id: string, version: string): string {
    const name = safeName(id);
    return path.join(this.dirOf(name), `${name}-${version}.jpg`);
  }
}

/** Item ids of ingested files are hex; any other id is hashed so that it can never name a path. */
function safeName(id: string): string {
  return /^[A-Za-z0-9_]{1,128}$/.test(id) ? id : createHash('sha256').update(id).digest('hex').slice(0, 32);
}
