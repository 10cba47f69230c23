/**
 * Where the .proto files of the wire contracts clip-search speaks are: for now the KServe v2 gRPC protocol
 * that NVIDIA Triton serves (`inference/grpc_service.proto` + `inference/model_config.proto`, package
 * `inference`), written by us as the subset we use, wire-compatible with Triton's published files. The
 * folder sits beside src/ and dist/, so the same relative path holds for both.
 */
import path from 'node:path';

/** Folder to pass as an include directory (the service proto imports `model_config.proto` from it). */
export const INFERENCE_PROTO_DIR = path.join(__dirname, '..', 'inference');
/** The service definition: `inference.GRPCInferenceService`. */
export const GRPC_SERVICE_PROTO = path.join(INFERENCE_PROTO_DIR, 'grpc_service.proto');
/** Triton's `ModelConfig` subset (also the schema of a model repository's config.pbtxt). */
export const MODEL_CONFIG_PROTO = path.join(INFERENCE_PROTO_DIR, 'model_config.proto');
