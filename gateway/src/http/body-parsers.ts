import express from 'express';
import type { Request, RequestHandler } from 'express';
import multer from 'multer';
import { DetachedPayloads, type DetachRule } from './detached-payloads';
import {
  MalformedBodyError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationFailedError,
} from './http-errors';
import { checkJsonShape, type JsonShapeLimits } from './json-shape';
import { exceedsJsonValues } from './json-value-count';

/** The request-body errors of body-parser (express.json), told apart by their `type`. */
interface BodyParserError {
  readonly type?: unknown;
  readonly status?: unknown;
  readonly message: string;
}

/** Per-route JSON body rules: how many bytes, and what shape, before schema validation runs. */
export interface JsonBodyRule {
  readonly maxBytes: number;
  /** The setting behind `maxBytes`, named in the 413 so the operator knows what to raise. */
  readonly maxBytesSetting?: string;
  readonly shape: JsonShapeLimits;
  /** Payloads lifted out before schema validation (see detached-payloads.ts). */
  readonly detach?: readonly DetachRule[];
}

/** RFC 8259: JSON exchanged between systems is UTF-8. Anything else is refused before it is decoded. */
function charsetOf(req: Request): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(req.headers['content-type'] ?? '');
  return match?.[1]?.toLowerCase();
}

/**
 * Parses JSON bodies under `rule(req)` (its size limit applies while reading, before anything is parsed),
 * then checks the body's shape cheaply and lifts long payloads out of it (see detached-payloads.ts), so
 * that schema validation only ever sees a small, shallow document. Every failure is a typed error.
 */
export function jsonBody(rule: (req: Request) => JsonBodyRule): RequestHandler {
  const parsers = new Map<JsonBodyRule, RequestHandler>();
  const parserFor = (routeRule: JsonBodyRule): RequestHandler => {
    let parser = parsers.get(routeRule);
    if (parser === undefined) {
      parser = express.json({
        limit: routeRule.maxBytes,
        type: ['application/json', 'application/*+json'],
        // Runs on the raw (inflated) bytes before JSON.parse: too many values is refused unparsed.
        verify: (_req, _res, raw) => {
          if (exceedsJsonValues(raw, routeRule.shape.maxValues))
            throw new ValidationFailedError([
              { field: '(body)', message: `holds more than ${routeRule.shape.maxValues} JSON values` },
            ]);
        },
      });
      parsers.set(routeRule, parser);
    }
    return parser;
  };
  return (req, res, next) => {
    if (!req.is(['application/json', 'application/*+json'])) {
      next();
      return;
    }
    const charset = charsetOf(req);
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      next(
        new UnsupportedMediaTypeError(
          `JSON bodies are UTF-8; charset=${charset.slice(0, 40)} is not accepted`,
        ),
      );
      return;
    }
    const routeRule = rule(req);
    const { shape } = routeRule;
    parserFor(routeRule)(req, res, (error?: unknown) => {
      if (error instanceof ValidationFailedError) {
        next(error);
        return;
      }
      if (error !== undefined && error !== null) {
        next(bodyParserError(error as BodyParserError, routeRule));
        return;
      }
      const problems = checkJsonShape(req.body, shape);
      if (problems.length > 0) {
        next(new ValidationFailedError(problems));
        return;
      }
      const detached = new DetachedPayloads();
      if (routeRule.detach !== undefined && detached.detach(req.body, routeRule.detach) > 0)
        res.locals.detachedPayloads = detached;
      next();
    });
  };
}

function bodyParserError({ type, message }: BodyParserError, rule: JsonBodyRule): Error {
  if (type === 'entity.too.large')
    return new PayloadTooLargeError(
      `The body is larger than the ${rule.maxBytes} bytes this route accepts${rule.maxBytesSetting === undefined ? '' : ` (${rule.maxBytesSetting})`}`,
    );
  if (type === 'entity.parse.failed') return new MalformedBodyError(`The body is not valid JSON: ${message}`);
  if (type === 'encoding.unsupported' || type === 'charset.unsupported')
    return new UnsupportedMediaTypeError(message);
  return new MalformedBodyError(`The body could not be read: ${message}`);
}

/** A route's middleware that refuses other body types with 415 (before validation says "required"). */
export function requireContentType(type: string): RequestHandler {
  return (req, _res, next) => {
    if (req.is(type) === false || req.is(type) === null)
      next(new UnsupportedMediaTypeError(`${req.method} ${req.path} takes a ${type} body`));
    else next();
  };
}

export interface UploadLimits {
  /** MAX_UPLOAD_BYTES. */
  readonly maxFileBytes: number;
}

/**
 * Multipart uploads kept in memory (an image is embedded and forgotten, never stored), with every
 * multer error turned into a typed one. Passed to the generated RegisterRoutes, which calls `fields()`.
 */
export function uploads(limits: UploadLimits): multer.Multer {
  const upload = multer({
    storage: multer.memoryStorage(),
    limits: {
      fileSize: limits.maxFileBytes,
      files: 1,
      fields: 20,
      fieldSize: 64 * 1024,
      parts: 21,
      headerPairs: 100,
    },
  });
  const wrap =
    (handler: RequestHandler): RequestHandler =>
    (req, res, next) => {
      handler(req, res, (error?: unknown) => {
        if (error === undefined || error === null) next();
        else next(uploadError(error, limits));
      });
    };
  return {
    ...upload,
    single: (name) => wrap(upload.single(name)),
    array: (name, maxCount) => wrap(upload.array(name, maxCount)),
    fields: (fields) => wrap(upload.fields(fields)),
    none: () => wrap(upload.none()),
    any: () => wrap(upload.any()),
  };
}

function uploadError(error: unknown, limits: UploadLimits): Error {
  if (!(error instanceof multer.MulterError))
    return new MalformedBodyError(
      `The multipart body could not be read: ${error instanceof Error ? error.message : String(error)}`,
    );
  switch (error.code) {
    case 'LIMIT_FILE_SIZE':
      return new PayloadTooLargeError(
        `The uploaded file is larger than the ${limits.maxFileBytes} bytes allowed (MAX_UPLOAD_BYTES)`,
      );
    case 'LIMIT_FIELD_VALUE':
    case 'LIMIT_FIELD_KEY':
    case 'LIMIT_PART_COUNT':
    case 'LIMIT_FIELD_COUNT':
      return new PayloadTooLargeError(`The multipart form is too large: ${error.message}`);
    case 'LIMIT_FILE_COUNT':
      return new ValidationFailedError([{ field: error.field ?? 'image', message: 'send one file only' }]);
    case 'LIMIT_UNEXPECTED_FILE':
      return new ValidationFailedError([
        {
          field: error.field ?? '(file)',
          message: 'unexpected file field; send the image in the `image` field',
        },
      ]);
    case 'MISSING_FIELD_NAME':
      return new MalformedBodyError('A multipart part has no field name');
  }
}
