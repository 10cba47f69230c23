import { ENV } from './config';

/** The environment variables as a Markdown table: printed by `clip-search config`, embedded in the README. */
export function renderConfigTable(): string {
  const cell = (d: string | undefined) => (d === undefined ? '(unset)' : d === '' ? '(empty)' : `\`${d}\``);
  const rows = Object.values(ENV).map((v) => `| \`${v.name}\` | ${cell(v.default)} | ${v.description} |`);
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n') + '\n';
}
