import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './cli-error';

/** node:util parseArgs with strict checking, turning its errors into one-line usage errors. */
export function parseCommandArgs<const O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
  allowPositionals = true,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}
