import {
  Body,
  Controller,
  FormField,
  Middlewares,
  Post,
  Request,
  Response,
  Route,
  Security,
  Tags,
  UploadedFile,
} from '@tsoa/runtime';
import type { Request as ExpressRequest } from 'express';
import { toMetadataFilter, toQueryTerms, toSearchResponse } from '../api/mapping';
import type { SearchBody, SearchResponse } from '../api/search-models';
import { requireContentType } from '../http/body-parsers';
import { abortOnClose } from '../http/client-abort';
import { ValidationFailedError, type FieldError } from '../http/http-errors';
import { PROBLEM_JSON, type Problem } from '../http/problem';
import type { QueryTerm, SearchCaller, SearchService } from '../services/search-service';

/**
 * Who asks (image decoding is shared fairly between clients: the API key, else the address) and a signal
 * that stops their work when they go away.
 */
function searchCaller(req: ExpressRequest): SearchCaller {
  const client: unknown = req.res?.locals.client;
  return { signal: abortOnClose(req), client: typeof client === 'string' ? client : `ip:${req.ip ?? ''}` };
}

/** A numeric form field, or undefined when absent; a bad value is added to `errors`. */
function formNumber(
  value: string | undefined,
  field: string,
  range: { readonly min: number; readonly max: number; readonly integer: boolean },
  errors: FieldError[],
): number | undefined {
  if (value === undefined) return undefined;
  const number = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(number) || (range.integer && !Number.isInteger(number)))
    errors.push({ field, message: range.integer ? 'must be a whole number' : 'must be a number' });
  else if (number < range.min || number > range.max)
    errors.push({ field, message: `must be between ${range.min} and ${range.max}` });
  else return number;
  return undefined;
}

/** The text fields of the image search form. */
const FORM_FIELDS = new Set(['k', 'offset', 'minScore', 'text']);

@Route('v1/search')
@Tags('search')
@Security('api_key', ['search'])
@Security('bearer', ['search'])
export class SearchController extends Controller {
  constructor(private readonly search: SearchService) {
    super();
  }

  /**
   * Search by text, by example images (base64 or URL), by indexed items or raw vectors, or a weighted
   * mix: `[{"text":"beach"},{"text":"people","weight":-0.5}]`.
   */
  @Post()
  @Response<Problem>(401, 'No API key, or an unknown one (WWW-Authenticate)', undefined, PROBLEM_JSON)
  @Response<Problem>(429, 'Too many searches from this client (Retry-After)', undefined, PROBLEM_JSON)
  @Middlewares(requireContentType('application/json'))
  @Response<Problem>(400, 'Malformed JSON', undefined, PROBLEM_JSON)
  @Response<Problem>(403, 'An imageUrl leads to a refused address', undefined, PROBLEM_JSON)
  @Response<Problem>(404, 'An itemId term names no item', undefined, PROBLEM_JSON)
  @Response<Problem>(413, 'Body larger than MAX_BODY_BYTES', undefined, PROBLEM_JSON)
  @Response<Problem>(415, 'Not a JSON body, or an unsupported image format', undefined, PROBLEM_JSON)
  @Response<Problem>(
    422,
    'Invalid field, undecodable image, or terms that cancel out',
    undefined,
    PROBLEM_JSON,
  )
  @Response<Problem>(503, 'Model or store not ready (Retry-After)', undefined, PROBLEM_JSON)
  public async searchByQuery(
    @Body() body: SearchBody,
    @Request() req: ExpressRequest,
  ): Promise<SearchResponse> {
    const outcome = await this.search.search(
      await toQueryTerms(body.query, req.res?.locals.detachedPayloads),
      {
        k: body.k ?? 10,
        offset: body.offset ?? 0,
        ...(body.minScore === undefined ? {} : { minScore: body.minScore }),
        ...(body.filter === undefined ? {} : { filter: toMetadataFilter(body.filter) }),
      },
      searchCaller(req),
    );
    return toSearchResponse(outcome, body.include);
  }

  /**
   * Search by an uploaded image (multipart field `image`), optionally mixed with a text:
   * `curl -F image=@cat.jpg -F k=5 http://127.0.0.1:8080/v1/search/image`.
   * @param image The image file (JPEG, PNG, WebP, GIF, TIFF, AVIF).
   * @param k Results per page (default 10).
   * @param offset Results to skip (default 0).
   * @param minScore Leave out results with a lower cosine similarity.
   * @param text An extra text term, weighted like the image.
   * @minimum k 1
   * @maximum k 1000
   * @minimum offset 0
   * @maximum offset 9000
   * @minimum minScore -1
   * @maximum minScore 1
   * @minLength text 1
   * @maxLength text 10000
   */
  @Post('image')
  @Response<Problem>(401, 'No API key, or an unknown one (WWW-Authenticate)', undefined, PROBLEM_JSON)
  @Response<Problem>(429, 'Too many searches from this client (Retry-After)', undefined, PROBLEM_JSON)
  @Middlewares(requireContentType('multipart/form-data'))
  @Response<Problem>(400, 'Malformed multipart body', undefined, PROBLEM_JSON)
  @Response<Problem>(413, 'Upload larger than MAX_UPLOAD_BYTES', undefined, PROBLEM_JSON)
  @Response<Problem>(415, 'Not multipart, or an unsupported image format', undefined, PROBLEM_JSON)
  @Response<Problem>(
    422,
    'Missing, unknown or invalid field, or an undecodable image',
    undefined,
    PROBLEM_JSON,
  )
  @Response<Problem>(503, 'Model or store not ready (Retry-After)', undefined, PROBLEM_JSON)
  public async searchByImage(
    @UploadedFile('image') image: Express.Multer.File,
    @Request() req: ExpressRequest,
    @FormField() k?: string,
    @FormField() offset?: string,
    @FormField() minScore?: string,
    @FormField() text?: string,
  ): Promise<SearchResponse> {
    // tsoa passes undefined for a missing file without complaint; the field is required here.
    if ((image as Express.Multer.File | undefined) === undefined)
      throw new ValidationFailedError([
        { field: 'image', message: "'image' is required (a multipart file field)" },
      ]);
    // The form is closed, like JSON bodies: a misspelt field is an error, not silently ignored.
    const unknown = Object.keys(req.body as Record<string, unknown>).filter((name) => !FORM_FIELDS.has(name));
    if (unknown.length > 0)
      throw new ValidationFailedError(
        unknown.slice(0, 5).map((field) => ({ field, message: 'is not a field of this form' })),
      );
    // Form fields arrive as text (tsoa does not coerce them): parsed and range-checked here, all at once.
    const errors: FieldError[] = [];
    const options = {
      k: formNumber(k, 'k', { min: 1, max: 1000, integer: true }, errors) ?? 10,
      offset: formNumber(offset, 'offset', { min: 0, max: 9000, integer: true }, errors) ?? 0,
      minScore: formNumber(minScore, 'minScore', { min: -1, max: 1, integer: false }, errors),
    };
    if (errors.length > 0) throw new ValidationFailedError(errors);
    const terms: QueryTerm[] = [{ kind: 'image', image: image.buffer, weight: 1, field: 'image' }];
    if (text !== undefined) terms.push({ kind: 'text', text, weight: 1, field: 'text' });
    const outcome = await this.search.search(
      terms,
      {
        k: options.k,
        offset: options.offset,
        ...(options.minScore === undefined ? {} : { minScore: options.minScore }),
      },
      searchCaller(req),
    );
    return toSearchResponse(outcome);
  }
}
