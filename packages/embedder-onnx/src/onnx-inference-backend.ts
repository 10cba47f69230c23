import os from 'node:os';
import * as ort from 'onnxruntime-node';
import {
  BackendUnavailableError,
  InvalidInputError,
  ModelLoadError,
  ModelMismatchError,
} from '@clip-search/contracts';
import type { ModelManifest, ResolvedModel } from '@clip-search/contracts';
import { buildAttentionMask } from '@clip-search/contracts';
import type { InferenceBackend, PixelBatch, TokenBatch } from '@clip-search/contracts';

export interface OnnxBackendOptions {
  /** ONNX Runtime intra-op threads per session; 0 = the cores this process may use. */
  readonly threads: number;
  /** The largest batch one call accepts (callers split above it). */
  readonly maxBatchSize: number;
}

/**
 * The one input name we adopt without the manifest declaring it: Hugging Face text exports differ
 * between revisions on whether they take it, and feeding the right mask is always correct.
 */
const CONVENTIONAL_ATTENTION_MASK = 'attention_mask';

/**
 * The intra-op threads a session gets. 0 is not left to ONNX Runtime: its own choice depends on how it
 * counts the machine's cores and has come out at one thread on 2-vCPU machines (15 images/s, against 23
 * with two), while `os.availableParallelism()` is what this process may actually run on.
 */
function intraOpThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 0) {
    throw new RangeError(`threads must be a whole number ≥ 0, got ${threads}`);
  }
  return threads > 0 ? threads : os.availableParallelism();
}

function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return { graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: threads };
}

type TensorMetadata = Extract<ort.InferenceSession.ValueMetadata, { isTensor: true }>;

function metadataOf(
  list: readonly ort.InferenceSession.ValueMetadata[],
  name: string,
): TensorMetadata | undefined {
  const found = list.find((m) => m.name === name);
  return found !== undefined && found.isTensor ? found : undefined;
}

const fmt = (names: readonly string[]): string => `[${names.map((n) => `'${n}'`).join(', ')}]`;
const fmtShape = (shape: readonly (number | string)[]): string =>
  `[${shape.map((d) => (typeof d === 'number' && d >= 0 ? String(d) : typeof d === 'string' ? d : '?')).join(', ')}]`;

/** What the text session needs besides the ids: the mask input's name, if any. */
interface TextContract {
  readonly attentionMask: string | undefined;
}

/**
 * The in-process InferenceBackend: two ONNX Runtime sessions (vision, text). The model's contract is
 * checked once, at load, against the manifest (tensor names, element types, static dims, embedding
 * dim), so a wrong or differently exported model fails with a ModelMismatchError before serving, never
 * at query time. This is the only shipped module that imports onnxruntime-node (the test-only KServe
 * fixture server also does), and the gateway loads this package only when EMBEDDER=onnx.
 */
export class OnnxInferenceBackend implements InferenceBackend {
  readonly kind = 'onnx';
  private closed = false;

  private constructor(
    readonly manifest: ModelManifest,
    readonly maxBatchSize: number,
    /** The intra-op threads each session was created with (`threads`, with 0 resolved). */
    readonly threads: number,
    private readonly vision: ort.InferenceSession,
    private readonly text: ort.InferenceSession,
    private readonly textContract: TextContract,
  ) {}

  static async load(model: ResolvedModel, options: OnnxBackendOptions): Promise<OnnxInferenceBackend> {
    if (!Number.isInteger(options.maxBatchSize) || options.maxBatchSize < 1) {
      throw new RangeError(`maxBatchSize must be a positive integer, got ${options.maxBatchSize}`);
    }
    const threads = intraOpThreads(options.threads);
    const { manifest } = model;
    const vision = await createSession(model.visionPath, 'vision', threads);
    let text: ort.InferenceSession;
    try {
      text = await createSession(model.textPath, 'text', threads);
    } catch (error) {
      await vision.release();
      throw error;
    }
    try {
      checkVision(vision, manifest, model.visionPath);
      const textContract = checkText(text, manifest, model.textPath);
      const backend = new OnnxInferenceBackend(
        manifest,
        options.maxBatchSize,
        threads,
        vision,
        text,
        textContract,
      );
      await backend.checkDims(model);
      return backend;
    } catch (error) {
      await Promise.all([vision.release(), text.release()]);
      throw error;
    }
  }

  async runVision(batch: PixelBatch): Promise<Float32Array> {
    this.assertOpen();
    const { size } = this.manifest.image;
    this.assertCount(batch.count);
    if (batch.size !== size) {
      throw new InvalidInputError(`Pixel batch size ${batch.size} does not match the model's ${size}.`);
    }
    if (batch.data.length !== batch.count * 3 * size * size) {
      throw new InvalidInputError(
        `Pixel batch holds ${batch.data.length} floats; ${batch.count} × 3 × ${size} × ${size} expected.`,
      );
    }
    const feeds = {
      [this.manifest.image.input]: new ort.Tensor('float32', batch.data, [batch.count, 3, size, size]),
    };
    const outputs = await this.vision.run(feeds, [this.manifest.image.output]);
    return this.embeddings(outputs[this.manifest.image.output], batch.count, 'vision');
  }

  async runText(batch: TokenBatch): Promise<Float32Array> {
    this.assertOpen();
    this.assertCount(batch.count);
    const { contextLength, padId } = this.manifest.text;
    if (!Number.isInteger(batch.length) || batch.length < 1 || batch.length > contextLength) {
      throw new InvalidInputError(`Token batch length ${batch.length} is not in 1..${contextLength}.`);
    }
    if (batch.ids.length !== batch.count * batch.length) {
      throw new InvalidInputError(
        `Token batch holds ${batch.ids.length} ids; ${batch.count} × ${batch.length} expected.`,
      );
    }
    const dims = [batch.count, batch.length];
    const feeds: Record<string, ort.Tensor> = {
      [this.manifest.text.input]: new ort.Tensor('int64', batch.ids, dims),
    };
    if (this.textContract.attentionMask !== undefined) {
      feeds[this.textContract.attentionMask] = new ort.Tensor(
        'int64',
        buildAttentionMask(batch, { padId }),
        dims,
      );
    }
    const outputs = await this.text.run(feeds, [this.manifest.text.output]);
    return this.embeddings(outputs[this.manifest.text.output], batch.count, 'text');
  }

  isReady(): Promise<boolean> {
    return Promise.resolve(!this.closed);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.vision.release(), this.text.release()]);
  }

  private assertOpen(): void {
    if (this.closed) throw new BackendUnavailableError('The ONNX Runtime backend is closed.');
  }

  private assertCount(count: number): void {
    if (!Number.isInteger(count) || count < 1 || count > this.maxBatchSize) {
      throw new InvalidInputError(`Batch of ${count} items; 1..${this.maxBatchSize} accepted per call.`);
    }
  }

  private embeddings(value: ort.OnnxValue | undefined, count: number, tower: string): Float32Array {
    const { dim } = this.manifest;
    if (value === undefined || value.type !== 'float32' || value.data.length !== count * dim) {
      // Checked at load; reaching this means the graph's output shape depends on its input.
      throw new ModelMismatchError(
        `The ${tower} model returned ${value === undefined ? 'no output' : `${value.type} ${fmtShape(value.dims)}`}; float32 [${count}, ${dim}] expected.`,
      );
    }
    return value.data as Float32Array;
  }

  /**
   * When an output's last dim is symbolic in the graph, run one dummy item per tower at load so that a
   * wrong `dim` in the manifest fails now rather than on the first query.
   */
  private async checkDims(model: ResolvedModel): Promise<void> {
    const { manifest } = this;
    const visionOut = metadataOf(this.vision.outputMetadata, manifest.image.output);
    const textOut = metadataOf(this.text.outputMetadata, manifest.text.output);
    const staticDim = (m: TensorMetadata | undefined): number | undefined => {
      const last = m?.shape[m.shape.length - 1];
      return typeof last === 'number' && last > 0 ? last : undefined;
    };
    const probes: [string, string, number | undefined, () => Promise<Float32Array>][] = [
      [
        'vision',
        model.visionPath,
        staticDim(visionOut),
        () => {
          const s = manifest.image.size;
          return this.runVision({ data: new Float32Array(3 * s * s), count: 1, size: s });
        },
      ],
      [
        'text',
        model.textPath,
        staticDim(textOut),
        () => this.runText({ ids: BigInt64Array.from([49406n, 49407n]), count: 1, length: 2 }),
      ],
    ];
    for (const [tower, file, known, probe] of probes) {
      if (known !== undefined) {
        if (known !== manifest.dim) {
          throw new ModelMismatchError(
            `The ${tower} model ${file} outputs ${known}-d embeddings; the manifest says dim ${manifest.dim}.`,
          );
        }
        continue;
      }
      try {
        await probe();
      } catch (error) {
        if (error instanceof ModelMismatchError) {
          throw new ModelMismatchError(
            `The ${tower} model ${file} does not output ${manifest.dim}-d embeddings (manifest dim): ${error.message}`,
            { cause: error },
          );
        }
        throw new ModelLoadError(
          `A test run of the ${tower} model ${file} failed: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
    }
  }
}

async function createSession(file: string, tower: string, threads: number): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(file, sessionOptions(threads));
  } catch (error) {
    throw new ModelLoadError(
      `ONNX Runtime cannot load the ${tower} model ${file}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

function expectTensor(
  list: readonly ort.InferenceSession.ValueMetadata[],
  names: readonly string[],
  name: string,
  what: string,
  file: string,
  field: string,
): TensorMetadata {
  const meta = metadataOf(list, name);
  if (meta === undefined) {
    throw new ModelMismatchError(
      `The ${what} '${name}' (model.json ${field}) is not in ${file}; it has ${fmt(names)}. Fix ${field} in model.json or use a matching export.`,
    );
  }
  return meta;
}

function checkVision(session: ort.InferenceSession, manifest: ModelManifest, file: string): void {
  const { image } = manifest;
  const input = expectTensor(
    session.inputMetadata,
    session.inputNames,
    image.input,
    'vision input',
    file,
    'image.input',
  );
  expectTensor(
    session.outputMetadata,
    session.outputNames,
    image.output,
    'vision output',
    file,
    'image.output',
  );
  const extra = session.inputNames.filter((n) => n !== image.input);
  if (extra.length > 0) {
    throw new ModelMismatchError(
      `The vision model ${file} takes inputs ${fmt(session.inputNames)}; only '${image.input}' (image.input) is fed.`,
    );
  }
  if (input.type !== 'float32') {
    throw new ModelMismatchError(
      `The vision input '${image.input}' of ${file} is ${input.type}; float32 expected.`,
    );
  }
  // Numeric dims must match; symbolic (string) or unknown (-1) dims accept anything.
  const expected = [undefined, 3, image.size, image.size];
  const shape = input.shape;
  const fits =
    shape.length === 0 ||
    (shape.length === 4 &&
      expected.every((want, i) => {
        const got = shape[i];
        return want === undefined || typeof got !== 'number' || got < 0 || got === want;
      }));
  if (!fits) {
    throw new ModelMismatchError(
      `The vision input '${image.input}' of ${file} has shape ${fmtShape(shape)}; [N, 3, ${image.size}, ${image.size}] expected (image.size ${image.size}).`,
    );
  }
}

function checkText(session: ort.InferenceSession, manifest: ModelManifest, file: string): TextContract {
  const { text } = manifest;
  const input = expectTensor(
    session.inputMetadata,
    session.inputNames,
    text.input,
    'text input',
    file,
    'text.input',
  );
  expectTensor(session.outputMetadata, session.outputNames, text.output, 'text output', file, 'text.output');
  if (input.type !== 'int64') {
    throw new ModelMismatchError(
      `The text input '${text.input}' of ${file} is ${input.type}; int64 expected.`,
    );
  }
  let attentionMask = text.attentionMask;
  if (attentionMask !== undefined) {
    const mask = expectTensor(
      session.inputMetadata,
      session.inputNames,
      attentionMask,
      'attention-mask input',
      file,
      'text.attention_mask',
    );
    if (mask.type !== 'int64') {
      throw new ModelMismatchError(
        `The attention-mask input '${attentionMask}' of ${file} is ${mask.type}; int64 expected.`,
      );
    }
  }
  const extra = session.inputNames.filter((n) => n !== text.input && n !== attentionMask);
  if (attentionMask === undefined && extra.length === 1 && extra[0] === CONVENTIONAL_ATTENTION_MASK) {
    const mask = metadataOf(session.inputMetadata, CONVENTIONAL_ATTENTION_MASK);
    if (mask?.type === 'int64') {
      attentionMask = CONVENTIONAL_ATTENTION_MASK;
      extra.length = 0;
    }
  }
  if (extra.length > 0) {
    throw new ModelMismatchError(
      `The text model ${file} takes inputs ${fmt(session.inputNames)}; model.json declares '${text.input}' (text.input)${
        attentionMask === undefined ? '' : ` and '${attentionMask}' (text.attention_mask)`
      }. Declare the others in model.json (an attention mask as text.attention_mask) or use a matching export.`,
    );
  }
  return { attentionMask };
}
