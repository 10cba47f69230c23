/**
 * The contract of a CLIP model folder: `model.json` beside a vision ONNX, a text ONNX and (optionally) the
 * tokenizer's BPE merges. Real exports differ in tensor names; the manifest says which names this one uses.
 */
export interface ImageTowerManifest {
  /** File name of the vision ONNX inside the model folder. */
  readonly file: string;
  readonly input: string;
  readonly output: string;
  /** Square input size (224 for ViT-B/32). */
  readonly size: number;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

export interface TextTowerManifest {
  readonly file: string;
  readonly input: string;
  readonly output: string;
  /** Present when the text model also takes an attention mask (some Hugging Face exports do). */
  readonly attentionMask?: string;
  readonly contextLength: number;
  readonly padId: number;
}

export interface ModelManifest {
  /** Stable identifier stored beside every vector, e.g. `tiny-clip` or `openai/clip-vit-base-patch32`. */
  readonly name: string;
  readonly dim: number;
  readonly image: ImageTowerManifest;
  readonly text: TextTowerManifest;
  /** Expected SHA-256 of files in the folder, by file name (verified after a download). */
  readonly sha256: Readonly<Record<string, string>>;
}

/** A manifest resolved to a folder on disk: absolute paths to everything a backend needs. */
export interface ResolvedModel {
  readonly manifest: ModelManifest;
  readonly dir: string;
  readonly visionPath: string;
  readonly textPath: string;
  /** The gzipped BPE merges file (the model folder's own, or the copy this project ships). */
  readonly bpePath: string;
}
