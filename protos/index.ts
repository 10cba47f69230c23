/**
 * @clip-search/protos: the wire contracts clip-search speaks. For now the KServe v2 gRPC protocol that
 * NVIDIA Triton serves (`inference/grpc_service.proto` + `inference/model_config.proto`, package
 * `inference`), written by us as the subset we use, wire-compatible with Triton's published files.
 *
 * This package only ships the .proto files and their paths: the typed loader is
 * `core/src/embedder/triton/kserve-proto.ts` (a dependant of this package), because @grpc/* are core's
 * dependencies. Everything that reads the files does so by these paths.
 */
import path from 'node:path';

/** Folder to pass as an include directory (the service proto imports `model_config.proto` from it). */
export const INFERENCE_PROTO_DIR = path.join(__dirname, 'inference');
/** The service definition: `inference.GRPCInferenceService`. */
export const GRPC_SERVICE_PROTO = path.join(INFERENCE_PROTO_DIR, 'grpc_service.proto');
/** Triton's `ModelConfig` subset (also the schema of a model repository's config.pbtxt). */
export const MODEL_CONFIG_PROTO = path.join(INFERENCE_PROTO_DIR, 'model_config.proto');
