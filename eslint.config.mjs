// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

// Folders within a package, lowest first. A folder imports only folders of lower layers (type-only imports
// included); folders of one layer are peers and do not import each other. Packages themselves are layered
// by their package.json dependencies (pnpm's strict node_modules lets a package import only what it
// declares, and tsc -b refuses cyclic references); these zones do the same for the folders inside one.
// import-x/no-cycle sees cycles between files only; the zones also catch the ones between folders.
const FOLDER_LAYERS = {
  'packages/contracts/src': [
    ['errors'], // the ClipSearchError family, thrown by every layer
    ['image', 'model'], // value types: ImageInput and its limits, ModelManifest, ModelLocation
    ['embedder', 'vector-store'], // the Embedder, InferenceBackend and VectorStore ports and their rules
    ['ingest'], // IngestQueue and ObjectSource, over VectorStore's types
    ['testing'], // kits for tests of any implementation
  ],
  'packages/platform/src': [['config', 'logging', 'metrics']],
  'packages/clip/src': [
    ['tokenizer', 'image'], // the tokenizer; decoding, preprocessing and thumbnails
    ['model'], // manifests on disk, the catalog, download, resolving a model folder
    ['embedder'], // ClipEmbedder: tokenizer + preprocessing + any InferenceBackend
    ['testing'], // golden fixtures and the InferenceBackend conformance suite
  ],
};

/** A file imports another package by its name (and its exports map), never by a path into its files. */
const BY_PACKAGE_NAME = {
  group: ['**/packages/*/src/**', '**/packages/*/dist/**', '**/gateway/src/**', '**/gateway/dist/**'],
  message: "Import the package by name ('@clip-search/…'), not its files.",
};

/** One `import-x/no-restricted-paths` zone per folder: it may not import its peers or anything above. */
const folderLayerZones = Object.entries(FOLDER_LAYERS).flatMap(([root, layers]) =>
  layers.flatMap((layer, level) => {
    const below = layers.slice(0, level).flat();
    const notBelow = layers.slice(level).flat();
    return layer.flatMap((folder) => {
      const from = notBelow.filter((f) => f !== folder).map((f) => `${root}/${f}`);
      if (from.length === 0) return [];
      const allowed = below.length === 0 ? 'no other folder' : `only ${below.map((f) => `${f}/`).join(', ')}`;
      return [
        {
          target: `${root}/${folder}`,
          from,
          message: `Layering of ${root} (eslint.config.mjs): ${folder}/ may import ${allowed}.`,
        },
      ];
    });
  }),
);

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
      // So does the CPU Triton's venv (scripts/triton-cpu-server.sh).
      '.venv-triton/**',
      // And Milvus's (scripts/milvus-server.sh).
      '.venv-milvus/**',
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
      // Layering is enforced by the no-restricted-imports and no-restricted-paths rules below.
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['packages/*/src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: folderLayerZones }],
    },
  },
  {
    // Everything reaches another package through its name (and its exports map), never through its files:
    // that is what keeps pnpm's and tsc's boundaries the only ones.
    files: ['**/*.ts'],
    ignores: ['jest.config.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            BY_PACKAGE_NAME,
            {
              group: ['**/jest/**'],
              message: 'jest/ holds Jest setup files; jest.config.ts loads them.',
            },
          ],
        },
      ],
    },
  },
  {
    // Backend clients live in their adapter package and nowhere else.
    files: [
      'gateway/**/*.ts',
      'ingest-worker/**/*.ts',
      'cli/**/*.ts',
      'packages/{contracts,platform,clip,ingest,config}/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            BY_PACKAGE_NAME,
            {
              group: [
                'onnxruntime-node',
                '@grpc/*',
                'usearch',
                'hnswlib-node',
                'better-sqlite3',
                '@zilliz/*',
                'bullmq',
                'ioredis',
                '@aws-sdk/*',
              ],
              message:
                'A backend client is imported only by its adapter package (packages/embedder-*, store-*, queue-*, source-*).',
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
    files: ['**/test/**/*.ts', '**/src/testing/**/*.ts', 'packages/kserve-fixture/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
