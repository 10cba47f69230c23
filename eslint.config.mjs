// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

// Layers of core/src, lowest first. A folder imports only folders of lower layers, type-only imports
// included: core will be split into packages (contracts, CLIP, platform, adapters) and a package cannot
// import one that depends on it. import-x/no-cycle sees cycles between files only; these zones also catch
// the ones between folders. Folders of one layer are peers and do not import each other. core/src/index.ts,
// the package's public surface, sits above every layer; so do the apps, which import only that surface.
const CORE_LAYERS = [
  ['errors'], // the ClipSearchError family, thrown by every layer
  ['logging', 'metrics', 'sqlite'], // platform: winston, prom-client, durable SQLite
  ['clip'], // pure CLIP: tokenizer, image decoding and preprocessing, ImageInput
  ['model'], // manifests, the catalog, download, resolving a model folder (ModelLocation)
  ['embedder', 'vector-store'], // the ports and their adapters (ONNX Runtime, Triton, SQLite + HNSW)
  ['ingest'], // ingestion pipeline and queue, over both ports
  ['image'], // thumbnails
  ['config'], // the environment table mapped into AppConfig: may import anything below it
];

/** One `import-x/no-restricted-paths` zone per folder: it may not import its peers or anything above. */
const coreLayerZones = CORE_LAYERS.flatMap((layer, level) => {
  const below = CORE_LAYERS.slice(0, level).flat();
  const notBelow = CORE_LAYERS.slice(level).flat();
  return layer.flatMap((folder) => {
    const from = notBelow.filter((f) => f !== folder).map((f) => `core/src/${f}`);
    if (from.length === 0) return [];
    const allowed = below.length === 0 ? 'no other folder' : `only ${below.map((f) => `${f}/`).join(', ')}`;
    return [
      {
        target: `core/src/${folder}`,
        from,
        message: `Layering of core (eslint.config.mjs): ${folder}/ may import ${allowed}.`,
      },
    ];
  });
});

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/generated/**',
      'fixtures/**',
      'demo/**',
      'coverage/**',
      // The Python tools venv (scripts/python-tools.sh) ships third-party JS.
      '.venv-tools/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    // import-x resolves and parses only .js-like files by default: without these settings no-cycle and
    // the layer zones below resolve no relative .ts import, and pass everything.
    settings: {
      'import-x/extensions': ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.mts', '.cts'] },
      'import-x/resolver-next': [
        importX.createNodeResolver({
          extensions: ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json', '.node'],
        }),
      ],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-extraneous-class': 'off',
      'import-x/no-cycle': 'error',
      // Layering: core depends on no app; an app never reaches into another app.
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['core/src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: coreLayerZones }],
    },
  },
  {
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@clip-search/*', '!@clip-search/core', '!@clip-search/protos'],
              message: 'core depends on no app.',
            },
            {
              group: ['**/gateway/**', '**/ingest-worker/**', '**/cli/**'],
              message: 'core depends on no app.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['gateway/**/*.ts', 'ingest-worker/**/*.ts', 'cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/core/src/**'], message: "Import '@clip-search/core', not its files." },
            { group: ['**/gateway/src/**'], message: "Import '@clip-search/gateway', not its files." },
            {
              group: ['onnxruntime-node', '@grpc/*', 'usearch', 'better-sqlite3', '@zilliz/*'],
              message: 'Backend clients are imported only by core adapters.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Benchmarks measure the product through its package, as a user's code would use it.
    files: ['bench/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/core/src/**'], message: "Import '@clip-search/core', not its files." }] },
      ],
    },
  },
);
