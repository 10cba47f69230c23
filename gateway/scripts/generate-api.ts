/**
 * Generates the tsoa routes and the OpenAPI document from the controllers, through tsoa's programmatic
 * API (what `tsoa spec-and-routes` would write, with the refinements of `closeForms`):
 *
 *   pnpm --filter @clip-search/gateway generate          # rewrite src/generated/{routes.ts,openapi.json}
 *   node cli/bin/… or tsx gateway/scripts/generate-api.ts --check   # exit 1 when they drifted
 *
 * `checkGeneratedApi` is also what the drift test calls.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  generateRoutes,
  generateSpec,
  validateSpecConfig,
  type Config,
  type ExtendedRoutesConfig,
} from 'tsoa';

export const GATEWAY_DIR = path.resolve(__dirname, '..');
export const GENERATED_DIR = path.join(GATEWAY_DIR, 'src', 'generated');
const GENERATED_FILES = ['routes.ts', 'openapi.json'] as const;

async function loadConfig(outDir: string): Promise<Config> {
  const raw = JSON.parse(await readFile(path.join(GATEWAY_DIR, 'tsoa.json'), 'utf8')) as Config;
  const abs = (p: string) => path.resolve(GATEWAY_DIR, p);
  return {
    ...raw,
    entryFile: abs(raw.entryFile),
    controllerPathGlobs: (raw.controllerPathGlobs ?? []).map(abs),
    spec: { ...raw.spec, outputDirectory: outDir },
    routes: {
      ...raw.routes,
      routesDir: outDir,
      ...(raw.routes.iocModule === undefined ? {} : { iocModule: abs(raw.routes.iocModule) }),
      ...(raw.routes.authenticationModule === undefined
        ? {}
        : { authenticationModule: abs(raw.routes.authenticationModule) }),
    },
  };
}

/** Writes routes.ts and openapi.json into `outDir` (default: the checked-in src/generated). */
export async function generateApi(outDir: string = GENERATED_DIR): Promise<void> {
  const config = await loadConfig(outDir);
  const specConfig = await validateSpecConfig(config);
  const routesConfig: ExtendedRoutesConfig = {
    ...config.routes,
    entryFile: config.entryFile,
    noImplicitAdditionalProperties: specConfig.noImplicitAdditionalProperties,
    bodyCoercion: config.routes.bodyCoercion ?? true,
    ...(config.controllerPathGlobs === undefined ? {} : { controllerPathGlobs: config.controllerPathGlobs }),
  };
  const metadata = await generateSpec(specConfig, {}, config.ignore);
  await generateRoutes(routesConfig, {}, config.ignore, metadata);
  const specFile = path.join(outDir, 'openapi.json');
  const spec = JSON.parse(await readFile(specFile, 'utf8')) as OpenApiDocument;
  await writeFile(specFile, JSON.stringify(closeForms(spec), null, '\t'));
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: object }> } }>>;
}

/**
 * What tsoa cannot say of multipart forms: it types every text field as a string, while the server parses
 * these as numbers (and range-checks them with the bounds the document already has).
 */
const FORM_FIELD_TYPES: Readonly<Record<string, Readonly<Record<string, 'integer' | 'number'>>>> = {
  '/v1/search/image': { k: 'integer', offset: 'integer', minScore: 'number' },
};

interface FormSchema {
  properties?: Record<string, { type?: string }>;
}

/**
 * Every multipart form is closed (`additionalProperties: false`): the server refuses fields a form does
 * not declare, as it refuses them in JSON bodies. Numeric fields get their type (FORM_FIELD_TYPES).
 */
function closeForms(spec: OpenApiDocument): OpenApiDocument {
  for (const [route, operations] of Object.entries(spec.paths ?? {}))
    for (const operation of Object.values(operations)) {
      const form = operation.requestBody?.content?.['multipart/form-data'];
      if (form?.schema === undefined) continue;
      const schema = form.schema as FormSchema;
      for (const [field, type] of Object.entries(FORM_FIELD_TYPES[route] ?? {})) {
        const property = schema.properties?.[field];
        if (property !== undefined) property.type = type;
      }
      form.schema = { ...schema, additionalProperties: false };
    }
  return spec;
}

/** Relative imports of a routes file generated elsewhere, rewritten as seen from src/generated. */
function relocateImports(source: string, fromDir: string): string {
  return source.replace(
    /(from\s+|require\()'(\.{1,2}\/[^']*)'/g,
    (_match, prefix: string, specifier: string) => {
      // Written the way tsoa writes them: `./` + the relative path, even when that starts with `..`.
      const relative = path
        .relative(GENERATED_DIR, path.resolve(fromDir, specifier))
        .split(path.sep)
        .join('/');
      return `${prefix}'./${relative}'`;
    },
  );
}

/** `src/generated/<name>` and its first differing line, for a message that says what to look at. */
function describeDrift(name: string, current: string | undefined, fresh: string): string {
  const file = path.relative(GATEWAY_DIR, path.join(GENERATED_DIR, name));
  if (current === undefined) return `${file} (missing)`;
  const a = current.split('\n');
  const b = fresh.split('\n');
  const line = a.findIndex((text, i) => text !== b[i]);
  const at = line === -1 ? a.length : line;
  return `${file} (line ${at + 1}: checked in ${JSON.stringify(a[at])}, generated ${JSON.stringify(b[at])})`;
}

/** The generated files that differ from a fresh generation (empty: no drift). */
export async function checkGeneratedApi(): Promise<string[]> {
  const temp = await mkdtemp(path.join(os.tmpdir(), 'clip-search-api-'));
  try {
    await generateApi(temp);
    const drifted: string[] = [];
    for (const name of GENERATED_FILES) {
      let fresh = await readFile(path.join(temp, name), 'utf8');
      if (name.endsWith('.ts')) fresh = relocateImports(fresh, temp);
      const current = await readFile(path.join(GENERATED_DIR, name), 'utf8').catch(() => undefined);
      if (current !== fresh) drifted.push(describeDrift(name, current, fresh));
    }
    return drifted;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const check = process.argv.includes('--check');
  (check ? checkGeneratedApi() : generateApi().then(() => [] as string[])).then(
    (drifted) => {
      if (drifted.length > 0) {
        process.stderr.write(
          `Generated API files are stale: ${drifted.join(', ')}. Run: pnpm --filter @clip-search/gateway generate\n`,
        );
        process.exitCode = 1;
      }
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
