import { renderConfigTable } from '@clip-search/config';

/** `clip-search config`: the environment variables, their defaults and meaning, as a Markdown table. */
export function configCommand(): void {
  process.stdout.write(renderConfigTable());
}
