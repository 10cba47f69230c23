/**
 * An image to embed: encoded bytes (any format sharp reads) or a file path. Declared here, beside the
 * decoder that reads it, so that CLIP preprocessing needs nothing from the embedder ports above it.
 */
export type ImageInput = Uint8Array | { readonly path: string };
