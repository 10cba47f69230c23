import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ForbiddenSourceError, InvalidImageError, InvalidSourceError } from '@clip-search/contracts';
import { itemIdForUri } from '@clip-search/contracts';
import { isImageFileName, LocalFolderSource, resolveFileSource } from '../src/local-folder-source';
import type { SourceListIssue, SourceObject } from '@clip-search/contracts';

const execFileAsync = promisify(execFile);

let tmp: string;
beforeEach(() => {
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'folder-source-')));
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function write(rel: string, content: string | Buffer = 'x'): string {
  const file = path.join(tmp, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

async function listAll(
  source: LocalFolderSource,
  onIssue?: (issue: SourceListIssue) => void,
): Promise<SourceObject[]> {
  const out: SourceObject[] = [];
  for await (const object of source.list(undefined, onIssue)) out.push(object);
  return out;
}

function keys(objects: readonly SourceObject[]): string[] {
  return objects.map((o) => o.key ?? '').sort();
}

describe('LocalFolderSource.list', () => {
  test('walks sub-folders and lists image extensions only, case-insensitively', async () => {
    write('a.jpg');
    write('b.JPEG');
    write('sub/c.Png');
    write('sub/deeper/d.webp');
    for (const ext of ['gif', 'tiff', 'tif', 'avif', 'heic', 'heif', 'bmp']) write(`all/x.${ext}`);
    write('notes.txt');
    write('sub/readme.md');
    write('jpg'); // no extension at all
    write('.hidden.jpg');
    write('.thumbnails/e.jpg');
    const root = path.join(tmp, 'root');
    fs.mkdirSync(root);
    for (const entry of fs.readdirSync(tmp))
      if (entry !== 'root') fs.renameSync(path.join(tmp, entry), path.join(root, entry));

    const objects = await listAll(new LocalFolderSource(root));
    expect(keys(objects)).toEqual(
      [
        'a.jpg',
        'b.JPEG',
        'sub/c.Png',
        'sub/deeper/d.webp',
        ...['gif', 'tiff', 'tif', 'avif', 'heic', 'heif', 'bmp'].map((e) => `all/x.${e}`),
      ].sort(),
    );
  });

  test('objects carry the canonical file URI, the size and a size+mtime version', async () => {
    const file = write('my photos/été #1.jpg', 'twelve bytes');
    fs.utimesSync(file, 1_700_000_000.123, 1_700_000_000.123);
    const source = new LocalFolderSource(tmp);
    const [object] = await listAll(source);
    expect(object).toEqual({
      uri: pathToFileURL(file).href,
      size: 12,
      version: `12-${Math.trunc(fs.statSync(file).mtimeMs)}`,
      key: 'my photos/été #1.jpg',
    });
    expect(object!.uri.startsWith(source.uri)).toBe(true);
    expect(source.uri).toBe(`${pathToFileURL(tmp).href}/`);
    // The version moves when the file is touched, even at the same size.
    fs.utimesSync(file, 1_700_000_100, 1_700_000_100);
    const [touched] = await listAll(source);
    expect(touched!.version).not.toBe(object!.version);
  });

  test('never follows symbolic links: outside targets are skipped, inside ones are listed once', async () => {
    const outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'outside-')));
    try {
      fs.writeFileSync(path.join(outside, 'secret.jpg'), 'x');
      const root = path.join(tmp, 'root');
      write('root/real/inside.jpg');
      fs.symlinkSync(path.join(outside, 'secret.jpg'), path.join(root, 'escape.jpg'));
      fs.symlinkSync(outside, path.join(root, 'escape-dir'));
      fs.symlinkSync(path.join(root, 'real/inside.jpg'), path.join(root, 'alias.jpg'));
      fs.symlinkSync(root, path.join(root, 'real/loop')); // a loop back to the root
      fs.symlinkSync('/etc/hostname', path.join(root, 'abs.jpg'));

      const objects = await listAll(new LocalFolderSource(root));
      expect(keys(objects)).toEqual(['real/inside.jpg']);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  test('skips FIFOs named like images (reading one would block forever)', async () => {
    write('ok.jpg');
    execFileSync('mkfifo', [path.join(tmp, 'pipe.jpg')]);
    expect(keys(await listAll(new LocalFolderSource(tmp)))).toEqual(['ok.jpg']);
  });

  test('stops when the signal aborts', async () => {
    for (let i = 0; i < 10; i++) write(`d${i}/x.jpg`);
    const controller = new AbortController();
    const seen: SourceObject[] = [];
    const run = async () => {
      for await (const object of new LocalFolderSource(tmp).list(controller.signal)) {
        seen.push(object);
        controller.abort(new Error('stop here'));
      }
    };
    await expect(run()).rejects.toThrow('stop here');
    expect(seen).toHaveLength(1);
  });

  test('an unreadable sub-folder is an issue, not a failure', async () => {
    write('ok.jpg');
    write('locked/x.jpg');
    fs.chmodSync(path.join(tmp, 'locked'), 0o000);
    fs.chmodSync(tmp, 0o755);
    try {
      let result: { keys: string[]; issues: SourceListIssue[] };
      if (process.getuid?.() === 0) {
        // Root reads every folder: list as `nobody` in a child process.
        const { stdout } = await execFileAsync(
          process.execPath,
          ['--conditions=source', '--import', 'tsx', path.join(__dirname, 'list-child.ts'), tmp],
          { cwd: path.resolve(__dirname, '../../..'), uid: 65534, gid: 65534 },
        );
        result = JSON.parse(stdout) as typeof result;
      } else {
        const issues: SourceListIssue[] = [];
        const objects = await listAll(new LocalFolderSource(tmp), (issue) => issues.push(issue));
        result = { keys: objects.map((o) => o.key ?? ''), issues };
      }
      expect(result.keys).toEqual(['ok.jpg']);
      expect(result.issues).toHaveLength(1);
      expect(result.issues[0]!.uri).toBe(`${pathToFileURL(path.join(tmp, 'locked')).href}/`);
      expect(result.issues[0]!.reason).toMatch(/EACCES/);
    } finally {
      fs.chmodSync(path.join(tmp, 'locked'), 0o755);
    }
  });
});

describe('LocalFolderSource.read', () => {
  test('reads the bytes of a listed object', async () => {
    write('a.png', Buffer.from([1, 2, 3]));
    const source = new LocalFolderSource(tmp);
    const [object] = await listAll(source);
    expect(Buffer.from(await source.read(object!))).toEqual(Buffer.from([1, 2, 3]));
  });

  test('refuses a file swapped for a symlink since the listing, and files over the size limit', async () => {
    write('a.jpg', 'abcdef');
    const source = new LocalFolderSource(tmp, { maxFileBytes: 5 });
    const [object] = await listAll(source);
    await expect(source.read(object!)).rejects.toBeInstanceOf(InvalidImageError);
    fs.rmSync(path.join(tmp, 'a.jpg'));
    fs.symlinkSync('/etc/hostname', path.join(tmp, 'a.jpg'));
    await expect(source.read(object!)).rejects.toThrow(/ELOOP/);
  });

  test('refuses URIs outside its folder', async () => {
    const source = new LocalFolderSource(path.join(tmp, 'sub'));
    await expect(
      source.read({ uri: pathToFileURL('/etc/hostname').href, size: 1, version: '1' }),
    ).rejects.toBeInstanceOf(ForbiddenSourceError);
  });
});

describe('resolveFileSource', () => {
  let root: string;
  beforeEach(() => {
    root = path.join(tmp, 'root');
    write('root/photos/a.jpg');
    write('elsewhere/b.jpg');
  });
  const url = (p: string) => pathToFileURL(p).href;

  test('accepts a folder inside an allowed root and canonicalizes it', async () => {
    const source = await resolveFileSource(url(path.join(root, 'photos')), [root]);
    expect(source.dir).toBe(path.join(root, 'photos'));
    expect(source.uri).toBe(`${url(path.join(root, 'photos'))}/`);
    expect((await resolveFileSource(`${url(root)}/`, [root])).dir).toBe(root);
    expect((await resolveFileSource(`file://localhost${path.join(root, 'photos')}`, [root])).dir).toBe(
      path.join(root, 'photos'),
    );
    // Percent-encoding is decoded.
    write('root/my photos/c.jpg');
    expect((await resolveFileSource(`${url(root)}/my%20photos`, [root])).dir).toBe(
      path.join(root, 'my photos'),
    );
  });

  test.each([
    ['another scheme', 's3://bucket/prefix'],
    ['http', 'http://example.com/photos'],
    ['not a URI', '/abs/path'],
    ['a relative file URI', 'file:photos'],
    ['a host', 'file://server/share'],
    ['a dot-dot segment', 'file:///ROOT/photos/../photos'],
    ['an encoded dot-dot segment', 'file:///ROOT/photos/%2e%2e/photos'],
    ['an encoded slash', 'file:///ROOT/a%2Fb'],
    ['a query', 'file:///ROOT/photos?x=1'],
    ['bad percent-encoding', 'file:///ROOT/%E0%A4%A'],
  ])('refuses %s with a 400 InvalidSourceError', async (_name, uri) => {
    const error = await resolveFileSource(uri.replaceAll('/ROOT', root), [root]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidSourceError);
    expect((error as InvalidSourceError).status).toBe(400);
    expect((error as InvalidSourceError).type).toBe('invalid-source');
  });

  test('a malformed path that would lead outside the roots is refused as outside (403), revealing nothing', async () => {
    for (const uri of ['file:///ROOT/%2e%2e/elsewhere', 'file:///ROOT/../elsewhere/%E0%A4%A'])
      await expect(resolveFileSource(uri.replaceAll('/ROOT', root), [root])).rejects.toBeInstanceOf(
        ForbiddenSourceError,
      );
  });

  test('a missing folder or a file inside the roots is a 400', async () => {
    await expect(resolveFileSource(url(path.join(root, 'nope')), [root])).rejects.toBeInstanceOf(
      InvalidSourceError,
    );
    await expect(resolveFileSource(url(path.join(root, 'photos/a.jpg')), [root])).rejects.toBeInstanceOf(
      InvalidSourceError,
    );
  });

  test('a folder outside the roots is a 403, whether it exists or not', async () => {
    for (const folder of [path.join(tmp, 'elsewhere'), path.join(tmp, 'missing'), '/', '/etc']) {
      const error = await resolveFileSource(url(folder), [root]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ForbiddenSourceError);
      expect((error as ForbiddenSourceError).status).toBe(403);
      expect((error as ForbiddenSourceError).type).toBe('source-forbidden');
    }
    // A sibling whose name extends the root's is not inside it.
    write('root2/x.jpg');
    await expect(resolveFileSource(url(path.join(tmp, 'root2')), [root])).rejects.toBeInstanceOf(
      ForbiddenSourceError,
    );
    // No roots, no ingestion.
    await expect(resolveFileSource(url(root), [])).rejects.toBeInstanceOf(ForbiddenSourceError);
  });

  test('symlinks are judged by their real path', async () => {
    // A link inside the root to a folder outside it is refused…
    fs.symlinkSync(path.join(tmp, 'elsewhere'), path.join(root, 'link-out'));
    await expect(resolveFileSource(url(path.join(root, 'link-out')), [root])).rejects.toBeInstanceOf(
      ForbiddenSourceError,
    );
    // …and a link outside the root to a folder inside it reads the real folder.
    fs.symlinkSync(path.join(root, 'photos'), path.join(tmp, 'link-in'));
    const source = await resolveFileSource(url(path.join(tmp, 'link-in')), [root]);
    expect(source.dir).toBe(path.join(root, 'photos'));
    // A root given through a symlink works too.
    fs.symlinkSync(root, path.join(tmp, 'root-alias'));
    expect(
      (await resolveFileSource(url(path.join(root, 'photos')), [path.join(tmp, 'root-alias')])).dir,
    ).toBe(path.join(root, 'photos'));
  });
});

describe('item ids', () => {
  test('are 32 hex characters of the SHA-256 of the URI, stable and distinct', () => {
    const id = itemIdForUri('file:///photos/a.jpg');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    // `printf %s file:///photos/a.jpg | sha256sum | cut -c1-32`: the documented formula, pinned.
    expect(id).toBe('07a754f200d00823ffa8024ffc6058a4');
    expect(itemIdForUri('file:///photos/b.jpg')).not.toBe(id);
  });

  test('isImageFileName', () => {
    expect(isImageFileName('A.JPG')).toBe(true);
    expect(isImageFileName('.jpg')).toBe(false);
    expect(isImageFileName('a.jpg.txt')).toBe(false);
  });
});
