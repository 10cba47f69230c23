import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ForbiddenSourceError, InvalidSourceError } from '@clip-search/contracts';
import { SourceResolver, type ResolvedSource } from '../src/source-resolver';

describe('SourceResolver', () => {
  let root: string;
  beforeAll(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'clip-sources-'));
    fs.mkdirSync(path.join(root, 'photos'));
  });
  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('local folders: file: URIs inside the roots open; outside them are refused', async () => {
    const sources = SourceResolver.localFolders([root]);
    expect(sources.schemes).toEqual(['file']);
    const folder = await sources.resolve(pathToFileURL(path.join(root, 'photos')).href);
    expect(folder.uri).toBe(`${pathToFileURL(fs.realpathSync(path.join(root, 'photos'))).href}/`);
    await expect(sources.resolve(pathToFileURL(os.tmpdir()).href)).rejects.toBeInstanceOf(
      ForbiddenSourceError,
    );
  });

  test('a scheme no opener takes is an invalid source that names the schemes there are', async () => {
    const sources = SourceResolver.localFolders([root]);
    for (const uri of ['s3://bucket/prefix', 'not a uri', ''])
      await expect(sources.resolve(uri)).rejects.toThrow(
        expect.objectContaining({
          constructor: InvalidSourceError,
          message: expect.stringMatching(/schemes: file:\)$/) as string,
        }) as Error,
      );
  });

  test('dispatches on the scheme, case-insensitively, to the opener registered for it', async () => {
    const opened: string[] = [];
    const fake = (uri: string): Promise<ResolvedSource> => {
      opened.push(uri);
      return Promise.reject(new InvalidSourceError('fake'));
    };
    const sources = new SourceResolver({ file: fake, s3: fake });
    await expect(sources.resolve('S3://bucket/a')).rejects.toThrow('fake');
    await expect(sources.resolve('file:///x')).rejects.toThrow('fake');
    expect(opened).toEqual(['S3://bucket/a', 'file:///x']);
  });
});
