import {
  Body,
  Controller,
  FormField,
  Middlewares,
  Post,
  Request,
  Response,
  Route,
  Tags,
  UploadedFile,
} from '@tsoa/runtime';
import type { Request as ExpressRequest } from 'express';
import { toQueryTerms, toSearchResponse } from '../api/mapping';
import type { SearchBody, SearchResponse } from '../api/search-models';
import { requireContentType } from '../http/body-parsers';
import { ValidationFailedError, type FieldError } from '../http/http-errors';
import { PROBLEM_JSON, type Problem } from '../http/problem';
import type { QueryTerm, SearchService } from '../services/search-service';

/** Aborts work for a request whose client went away (a pending image download, say). */
function abortOnClose(req: ExpressRequest): AbortSignal {
  const controller = new AbortController();
  req.res?.on('close', () => {
    if (req.res?.writableFinished === false) controller.abort(new Error('client closed the connection'));
  });
  return controller.signal;
}

/** A numeric form field, or undefined when absent; a bad value is added to `errors`. */
function formNumber(
  value: string | undefined,
  field: string,
  range: { readonly min: number; readonly max: number; readonly integer: boolean },
  errors: FieldError[],
): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const number = Number(value);
  if (!Number.isFinite(number) || (range.integer && !Number.isInteger(number)))
    errors.push({ field, message: range.integer ? 'must be a whole number' : 'must be a number' });
  else if (number < range.min || number > range.max)
    errors.push({ field, message: `must be between ${range.min} and ${range.max}` });
  else return number;
  return undefined;
}

@Route('v1/search')
@Tags('search')
export class SearchController extends Controller {
  constructor(private readonly search: SearchService) {
    super();
  }

  /**
   * Search by text, by example images (base64 or URL), by indexed items or raw vectors, or a weighted
   * mix: `[{"text":"beach"},{"text":"people","weight":-0.5}]`.
   */
  @Post()
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
      toQueryTerms(body.query),
      {
        k: body.k ?? 10,
        offset: body.offset ?? 0,
        ...(body.minScore === undefined ? {} : { minScore: body.minScore }),
        // The API's filter is the port's MetadataFilter, structurally: it passes through as it is.
        ...(body.filter === undefined ? {} : { filter: body.filter }),
      },
      abortOnClose(req),
    );
    return toSearchResponse(outcome, body.include);
  }

  /**
   * Search by an uploaded image (multipart field `image`), optionally mixed with a text:
   * `curl -F image=@cat.jpg -F k=5 http://127.0.0.1:8080/v1/search/image`.
   * @param image The image file (JPEG, PNG, WebP, GIF, TIFF, AVIF).
   * @param k Results per page, 1–1000 (default 10).
   * @param offset Results to skip, 0–10000 (default 0).
   * @param minScore Leave out results with a lower cosine similarity, -1–1.
   * @param text An extra text term, weighted like the image.
   * @maxLength text 10000
   */
  @Post('image')
  @Middlewares(requireContentType('multipart/form-data'))
  @Response<Problem>(400, 'Malformed multipart body', undefined, PROBLEM_JSON)
  @Response<Problem>(413, 'Upload larger than MAX_UPLOAD_BYTES', undefined, PROBLEM_JSON)
  @Response<Problem>(415, 'Not multipart, or an unsupported image format', undefined, PROBLEM_JSON)
  @Response<Problem>(422, 'Missing or invalid field, or an undecodable image', undefined, PROBLEM_JSON)
  @Response<Problem>(503, 'Model or store not ready (Retry-After)', undefined, PROBLEM_JSON)
  public async searchByImage(
    @UploadedFile('image') image: Express.Multer.File,
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
    // Form fields are strings (tsoa does not coerce them): parsed and range-checked here, all at once.
    const errors: FieldError[] = [];
    const options = {
      k: formNumber(k, 'k', { min: 1, max: 1000, integer: true }, errors) ?? 10,
      offset: formNumber(offset, 'offset', { min: 0, max: 10_000, integer: true }, errors) ?? 0,
      minScore: formNumber(minScore, 'minScore', { min: -1, max: 1, integer: false }, errors),
    };
    if (text?.trim() === '') errors.push({ field: 'text', message: 'must not be empty' });
    if (errors.length > 0) throw new ValidationFailedError(errors);
    const terms: QueryTerm[] = [{ kind: 'image', image: image.buffer, weight: 1, field: 'image' }];
    if (text !== undefined) terms.push({ kind: 'text', text, weight: 1, field: 'text' });
    const outcome = await this.search.search(terms, {
      k: options.k,
      offset: options.offset,
      ...(options.minScore === undefined ? {} : { minScore: options.minScore }),
    });
    return toSearchResponse(outcome);
  }
}
