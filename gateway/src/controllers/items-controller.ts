import {
  Controller,
  Delete,
  Get,
  Path,
  Produces,
  Query,
  Request,
  Response,
  Route,
  Security,
  SuccessResponse,
  Tags,
} from '@tsoa/runtime';
import type { Request as ExpressRequest } from 'express';
import type { Item } from '../api/item-models';
import { toItem, toSearchResponse } from '../api/mapping';
import type { IncludeField, SearchResponse } from '../api/search-models';
import { PROBLEM_JSON, type Problem } from '../http/problem';
import { sendFile, sendBuffer } from '../http/send-image';
import type { ItemService } from '../services/item-service';
import type { SearchService } from '../services/search-service';
import type { ThumbnailService } from '../services/thumbnail-service';

/** Originals and thumbnails may be cached briefly; the ETag makes revalidation cheap. */
const IMAGE_CACHE_CONTROL = 'private, max-age=300';

@Route('v1/items')
@Tags('items')
@Security('api_key', ['search'])
@Security('bearer', ['search'])
export class ItemsController extends Controller {
  constructor(
    private readonly items: ItemService,
    private readonly search: SearchService,
    private readonly thumbnails: ThumbnailService,
  ) {
    super();
  }

  /**
   * An indexed item: where it comes from, its size, metadata and links to its image and thumbnail.
   * @param id The item id (from search results).
   * @maxLength id 256
   */
  @Get('{id}')
  @Response<Problem>(401, 'No API key, or an unknown one (WWW-Authenticate)', undefined, PROBLEM_JSON)
  @Response<Problem>(404, 'No such item', undefined, PROBLEM_JSON)
  @Response<Problem>(503, 'Model or store not ready (Retry-After)', undefined, PROBLEM_JSON)
  @Response<Problem>(422, 'A path or query parameter out of range', undefined, PROBLEM_JSON)
  public async getItem(@Path() id: string): Promise<Item> {
    return toItem(await this.items.get(id));
  }

  /**
   * Removes an item from the index (the original file is not touched).
   * @maxLength id 256
   */
  @Delete('{id}')
  @Response<Problem>(401, 'No API key, or an unknown one (WWW-Authenticate)', undefined, PROBLEM_JSON)
  @Security('api_key', ['admin'])
  @Security('bearer', ['admin'])
  @Response<Problem>(403, 'The key lacks the admin scope', undefined, PROBLEM_JSON)
  @Response<Problem>(404, 'No such item', undefined, PROBLEM_JSON)
  @Response<Problem>(503, 'Model or store not ready (Retry-After)', undefined, PROBLEM_JSON)
  @SuccessResponse(204, 'Deleted')
  @Response<Problem>(422, 'A path or query parameter out of range', undefined, PROBLEM_JSON)
  public async deleteItem(@Path() id: string): Promise<void> {
    await this.items.delete(id);
    this.setStatus(204);
  }

  /**
   * "More like this": the items nearest to this one, itself excluded.
   * @param k Results per page (default 10).
   * @param offset Results to skip (default 0).
   * @param minScore Leave out results with a lower cosine similarity.
   * @param include Optional fields to return (default all).
   * @maxLength id 256
   * @isInt k must be a whole number
   * @minimum k 1
   * @maximum k 1000
   * @isInt offset must be a whole number
   * @minimum offset 0
   * @maximum offset 9000
   * @minimum minScore -1
   * @maximum minScore 1
   */
  @Get('{id}/similar')
  @Response<Problem>(401, 'No API key, or an unknown one (WWW-Authenticate)', undefined, PROBLEM_JSON)
  @Response<Problem>(404, 'No such item', undefined, PROBLEM_JSON)
  @Response<Problem>(429, 'Too many searches from this client (Retry-After)', undefined, PROBLEM_JSON)
  @Response<Problem>(503, 'Model or store not ready (Retry-After)', undefined, PROBLEM_JSON)
  @Response<Problem>(422, 'A path or query parameter out of range', undefined, PROBLEM_JSON)
  public async similarItems(
    @Path() id: string,
    @Query() k?: number,
    @Query() offset?: number,
    @Query() minScore?: number,
    @Query() include?: IncludeField[],
  ): Promise<SearchResponse> {
    const outcome = await this.search.similar(id, {
      k: k ?? 10,
      offset: offset ?? 0,
      ...(minScore === undefined ? {} : { minScore }),
    });
    return toSearchResponse(outcome, include);
  }

  /**
   * The original image, streamed with its real Content-Type (from its bytes), an ETag and Cache-Control.
   * @maxLength id 256
   */
  @Get('{id}/image')
  @Response<Problem>(401, 'No API key, or an unknown one (WWW-Authenticate)', undefined, PROBLEM_JSON)
  @Response<Problem>(404, 'No such item', undefined, PROBLEM_JSON)
  @Response<Problem>(503, 'Model or store not ready (Retry-After)', undefined, PROBLEM_JSON)
  @Produces('image/*')
  @SuccessResponse(200, 'The original image')
  @Response<Problem>(422, 'A path or query parameter out of range', undefined, PROBLEM_JSON)
  public async getImage(@Path() id: string, @Request() req: ExpressRequest): Promise<void> {
    await sendFile(req, await this.items.original(id), IMAGE_CACHE_CONTROL);
  }

  /**
   * A JPEG preview, 256 pixels on its longer side, cached on disk.
   * @maxLength id 256
   */
  @Get('{id}/thumbnail')
  @Response<Problem>(401, 'No API key, or an unknown one (WWW-Authenticate)', undefined, PROBLEM_JSON)
  @Response<Problem>(404, 'No such item', undefined, PROBLEM_JSON)
  @Response<Problem>(503, 'Model or store not ready (Retry-After)', undefined, PROBLEM_JSON)
  @Produces('image/jpeg')
  @SuccessResponse(200, 'The thumbnail')
  @Response<Problem>(422, 'The original can no longer be decoded', undefined, PROBLEM_JSON)
  public async getThumbnail(@Path() id: string, @Request() req: ExpressRequest): Promise<void> {
    const item = await this.items.get(id);
    const etag = this.thumbnails.etag(item);
    await sendBuffer(req, etag, IMAGE_CACHE_CONTROL, () => this.thumbnails.thumbnail(item));
  }
}
