// Lists a folder with LocalFolderSource and prints {keys, issues} as JSON. Run by
// local-folder-source.test.ts as an unprivileged user: root reads every folder, so only another user
// can meet an unreadable one.
//   node --import tsx list-child.ts <dir>
import { LocalFolderSource } from '../src/local-folder-source';
import type { SourceListIssue } from '@clip-search/contracts';

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (dir === undefined) throw new Error('usage: list-child.ts <dir>');
  const keys: string[] = [];
  const issues: SourceListIssue[] = [];
  for await (const object of new LocalFolderSource(dir).list(undefined, (issue) => issues.push(issue)))
    keys.push(object.key ?? object.uri);
  process.stdout.write(`${JSON.stringify({ keys, issues })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
