import express from 'express';
import type { RequestHandler } from 'express';
import multer from 'multer';
import {
  MalformedBodyError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
  ValidationFailedError,
} from './http-errors';

/** The request-body errors of body-parser (express.json), told apart by their `type`. */
interface BodyParserError {
  readonly type?: unknown;
  readonly status?: unknown;
  readonly message: string;
}

/** Converts what express.json throws into typed errors, so the error middleware sees only those. */
export function jsonBody(maxBytes: number): RequestHandler {
  const parse: RequestHandler = express.json({
    limit: maxBytes,
    type: ['application/json', 'application/*+json'],
  });
  return (req, res, next) => {
    parse(req, res, (error?: unknown) => {
      if (error === undefined || error === null) {
        next();
        return;
      }
      const { type, message } = error as BodyParserError;
      if (type === 'entity.too.large')
        next(
          new PayloadTooLargeError(`The body is larger than the ${maxBytes} bytes allowed (MAX_BODY_BYTES)`),
        );
      else if (type === 'entity.parse.failed')
        next(new MalformedBodyError(`The body is not valid JSON: ${message}`));
      else if (type === 'encoding.unsupported' || type === 'charset.unsupported')
        next(new UnsupportedMediaTypeError(message));
      else next(new MalformedBodyError(`The body could not be read: ${message}`));
    });
  };
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
