// In a module of their own, without the decoder: the model catalog needs them and must load no image library.

/** OpenAI CLIP's normalization constants (every OpenAI and most open_clip checkpoints). */
export const CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
