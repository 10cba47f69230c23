import type { ItemRecord } from '@clip-search/contracts';
import type { BackendGate } from '../app/backend-gate';
import { NotFoundError } from '../http/http-errors';
import type { OriginalImage, OriginalImages } from './original-image';
import type { ThumbnailService } from './thumbnail-service';

export class ItemService {
  constructor(
    private readonly backends: BackendGate,
    private readonly thumbnails: ThumbnailService,
    private readonly originals: OriginalImages,
  ) {}

  async get(id: string): Promise<ItemRecord> {
    const [item] = await this.backends.require().store.get([id]);
    if (item === undefined) throw new NotFoundError(`No item with id ${JSON.stringify(id)}`);
    return item;
  }

  /** The item's original image, opened (the caller streams it and closes the handle). */
  async original(id: string): Promise<OriginalImage> {
    return this.originals.open(await this.get(id));
  }

  /** Removes the item from the index (the original file is not touched) and its cached thumbnails. */
  async delete(id: string): Promise<void> {
    const removed = await this.backends.require().store.delete([id]);
    if (removed === 0) throw new NotFoundError(`No item with id ${JSON.stringify(id)}`);
    await this.thumbnails.forget(id);
  }
}
