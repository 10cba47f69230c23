import vm from 'node:vm';

/**
 * Jest runs each test file in its own realm, with its own typed-array constructors (it already hands
 * the sandbox Node's own `ArrayBuffer` and `Uint8Array`). Native addons such as onnxruntime-node create
 * typed arrays in Node's realm, and onnxruntime-common's `data instanceof Float32Array` check then fails
 * inside Jest only ("A float32 tensor's data must be type of function Float32Array()"). Installing
 * Node's own typed arrays in the sandbox, as Jest does for Uint8Array, makes tests behave as production.
 * Loaded by jest.config.ts `setupFiles` before every test file.
 */
const TYPED_ARRAYS = [
  'Int8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
] as const;

const sandbox = globalThis as unknown as Record<string, unknown>;
for (const name of TYPED_ARRAYS) {
  sandbox[name] = vm.runInThisContext(name) as unknown;
}
