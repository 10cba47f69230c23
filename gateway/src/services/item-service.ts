import type { ItemRecord } from '@clip-search/core';
import type { BackendGate } from '../app/backend-gate';
import { NotFoundError } from '../http/http-errors';
import type { ThumbnailService } from './thumbnail-service';

export class ItemService {
  constructor(
    private readonly backends: BackendGate,
    private readonly thumbnails: ThumbnailService,
  ) {}

  async get(id: string): Promise<ItemRecord> {
    const [item] = await this.backends.require().store.get([id]);
    if (item === undefined) throw new NotFoundError(`No item with id ${JSON.stringify(id)}`);
    return item;
  }

  /** Removes the item from the index (the original file is not touched) and its cached thumbnails. */
  async delete(id: string): Promise<void> {
    const removed = await this.backends.require().store.delete([id]);
    if (removed === 0) throw new NotFoundError(`No item with id ${JSON.stringify(id)}`);
    await this.thumbnails.forget(id);
  }
}
