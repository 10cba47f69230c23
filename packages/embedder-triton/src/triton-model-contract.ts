/**
 * What Triton says about a model (ModelMetadata + ModelConfig) against what the model manifest promises.
 * Checked once at start: a Triton repository holding another export (renamed tensors, FP16 inputs, another
 * embedding size) must refuse to start with the field named, not produce vectors that silently disagree
 * with the ones already stored. Only the tensors (names, datatypes, dims) and batching are compared, never
 * the platform or backend: ONNX Runtime, TensorRT or a Python model (the CPU stand-in in
 * triton-model-repo/cpu-server/ reports "python") serve the same contract.
 */
import { ModelMismatchError } from '@clip-search/contracts';
import type { ModelManifest } from '@clip-search/contracts';
import type { ModelConfig, ModelMetadataResponse, TensorMetadata } from '@clip-search/protos';

/** How to call one tower on this server. */
export interface TowerContract {
  /** Triton's model name. */
  readonly model: string;
  /** Rows one request may carry (the model's max_batch_size, or the client cap when it is 0). */
  readonly maxBatchSize: number;
  readonly output: string;
  /** Embedding width the output must have. */
  readonly dim: number;
  /** False when the metadata leaves the width variable (-1): a test call at start checks it instead. */
  readonly dimDeclared: boolean;
}

export interface VisionContract extends TowerContract {
  readonly input: string;
  readonly size: number;
}

export interface TextContract extends TowerContract {
  readonly input: string;
  readonly attentionMask: string | undefined;
  /** The longest token row the model takes (the manifest's context length). */
  readonly contextLength: number;
  /** Set when the model's sequence dimension is fixed: every row is padded to it. */
  readonly fixedLength: number | undefined;
  readonly padId: number;
}

const CONVENTIONAL_ATTENTION_MASK = 'attention_mask';

/** One expected dimension: the batch (variable), a variable length, or an exact size (-1 also accepted). */
type Dim = 'batch' | 'length' | number;

export function visionContract(
  metadata: ModelMetadataResponse,
  config: ModelConfig | null,
  manifest: ModelManifest,
  unbatchedMaxBatchSize: number,
): VisionContract {
  const check = new ContractCheck(metadata.name, manifest.name);
  const { input, output, size } = manifest.image;
  check.onlyInputs(metadata, config, [input]);
  check.tensor('input', metadata.inputs, input, 'FP32', ['batch', 3, size, size]);
  const out = check.tensor('output', metadata.outputs, output, 'FP32', ['batch', manifest.dim]);
  return {
    dimDeclared: out.shape[1] === manifest.dim,
    model: metadata.name,
    maxBatchSize: maxBatchSize(config, unbatchedMaxBatchSize),
    input,
    output,
    size,
    dim: manifest.dim,
  };
}

export function textContract(
  metadata: ModelMetadataResponse,
  config: ModelConfig | null,
  manifest: ModelManifest,
  unbatchedMaxBatchSize: number,
): TextContract {
  const check = new ContractCheck(metadata.name, manifest.name);
  const { input, output, contextLength, padId } = manifest.text;
  let attentionMask = manifest.text.attentionMask;
  // As the ONNX Runtime adapter does: a text model that also takes the conventional `attention_mask`
  // (some Hugging Face exports) gets it even when the manifest does not name it.
  if (
    attentionMask === undefined &&
    metadata.inputs.some((t) => t.name === CONVENTIONAL_ATTENTION_MASK && t.datatype === 'INT64')
  ) {
    attentionMask = CONVENTIONAL_ATTENTION_MASK;
  }
  check.onlyInputs(metadata, config, attentionMask === undefined ? [input] : [input, attentionMask]);
  const ids = check.tensor('input', metadata.inputs, input, 'INT64', ['batch', 'length']);
  if (attentionMask !== undefined) {
    check.tensor('input', metadata.inputs, attentionMask, 'INT64', ['batch', 'length']);
  }
  const out = check.tensor('output', metadata.outputs, output, 'FP32', ['batch', manifest.dim]);
  const length = ids.shape[1] ?? -1;
  if (length > 0 && length !== contextLength) {
    throw new ModelMismatchError(
      `Triton model '${metadata.name}' input '${input}' shape: sequence length is fixed to ${length}, ` +
        `but the manifest of '${manifest.name}' has context_length ${contextLength}`,
    );
  }
  return {
    model: metadata.name,
    maxBatchSize: maxBatchSize(config, unbatchedMaxBatchSize),
    input,
    attentionMask,
    dimDeclared: out.shape[1] === manifest.dim,
    contextLength,
    fixedLength: length > 0 ? length : undefined,
    padId,
    output,
    dim: manifest.dim,
  };
}

function maxBatchSize(config: ModelConfig | null, unbatched: number): number {
  const configured = config?.max_batch_size ?? 0;
  return configured > 0 ? configured : unbatched;
}

class ContractCheck {
  constructor(
    private readonly model: string,
    private readonly manifestName: string,
  ) {}

  /** The model must not require an input the manifest does not know (we could not fill it). */
  onlyInputs(metadata: ModelMetadataResponse, config: ModelConfig | null, known: readonly string[]): void {
    const optional = new Set((config?.input ?? []).filter((i) => i.optional === true).map((i) => i.name));
    for (const tensor of metadata.inputs) {
      if (!known.includes(tensor.name) && !optional.has(tensor.name)) {
        throw new ModelMismatchError(
          `Triton model '${this.model}' takes input '${tensor.name}', which the manifest of ` +
            `'${this.manifestName}' does not declare (it declares ${known.map((n) => `'${n}'`).join(', ')})`,
        );
      }
    }
  }

  tensor(
    kind: 'input' | 'output',
    tensors: readonly TensorMetadata[],
    name: string,
    datatype: string,
    dims: readonly Dim[],
  ): TensorMetadata {
    const tensor = tensors.find((t) => t.name === name);
    const where = `Triton model '${this.model}'`;
    if (!tensor) {
      const names = tensors.map((t) => `'${t.name}'`).join(', ') || 'none';
      throw new ModelMismatchError(
        `${where} has no ${kind} '${name}' (named by the manifest of '${this.manifestName}'); its ${kind}s: ${names}`,
      );
    }
    if (tensor.datatype !== datatype) {
      throw new ModelMismatchError(
        `${where} ${kind} '${name}' datatype is ${tensor.datatype}, the manifest of '${this.manifestName}' expects ${datatype}`,
      );
    }
    const shape = tensor.shape;
    const fits =
      shape.length === dims.length &&
      dims.every((dim, i) => {
        const actual = shape[i] ?? Number.NaN;
        if (dim === 'batch') return actual === -1;
        if (dim === 'length') return actual === -1 || actual > 0;
        return actual === -1 || actual === dim;
      });
    if (!fits) {
      const expected = dims.map((d) => (d === 'batch' || d === 'length' ? -1 : d));
      throw new ModelMismatchError(
        `${where} ${kind} '${name}' shape is [${shape.join(',')}], the manifest of '${this.manifestName}' ` +
          `expects [${expected.join(',')}] (-1: variable; the first dimension is the batch)`,
      );
    }
    return tensor;
  }
}
