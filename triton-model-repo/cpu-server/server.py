"""A CPU stand-in for NVIDIA Triton, for tests and laptops: the real `tritonserver` (bundled by
nvidia-pytriton) serving `clip_vision` and `clip_text` over KServe v2 gRPC, each model a Python callable
that runs the model folder's ONNX file through ONNX Runtime on the CPU.

What clients see comes from ../clip_vision/config.pbtxt and ../clip_text/config.pbtxt, parsed with Triton's
own ModelConfig message: tensor names, datatypes, dims, max_batch_size and the dynamic batcher. Production
runs NVIDIA's container on ../ with the ONNX Runtime or TensorRT backend instead (see ../README.md).

    .venv-triton/bin/python triton-model-repo/cpu-server/server.py \
        [--model-dir fixtures/models/tiny-clip] [--grpc-port 8001] [--http-port 8000] [--metrics-port 8002]

Prints `READY grpc=<port> http=<port> metrics=<port>` on stdout once both models are ready; stops on
SIGTERM or SIGINT (and, with --exit-with-stdin, when stdin closes: its parent is gone).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import signal
import sys
import sysconfig
import threading
from typing import Callable, Dict, List, NoReturn, Sequence

REPO = pathlib.Path(__file__).resolve().parent.parent
ROOT = REPO.parent
TOWERS = (("clip_vision", "image"), ("clip_text", "text"))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=pathlib.Path, default=ROOT / "fixtures/models/tiny-clip",
                        help="a model folder: model.json and the ONNX files it names")
    parser.add_argument("--repo", type=pathlib.Path, default=REPO,
                        help="the Triton model repository holding <model>/config.pbtxt")
    parser.add_argument("--address", default="127.0.0.1", help="address every endpoint binds to")
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--metrics-port", type=int, default=8002)
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads per model")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="stop when stdin reaches its end (a parent holding the pipe has exited)")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def fail(message: str) -> NoReturn:
    print(f"cpu-server: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def with_libpython() -> None:
    """Triton's Python backend stub links against libpython of this interpreter; tritonserver inherits
    this process's environment when PyTriton starts it."""
    libdir = sysconfig.get_config_var("LIBDIR")
    paths = [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]
    if libdir and libdir not in paths:
        os.environ["LD_LIBRARY_PATH"] = ":".join([libdir, *paths])


def read_config(repo: pathlib.Path, name: str):
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    path = repo / name / "config.pbtxt"
    try:
        return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())
    except (OSError, text_format.ParseError) as error:
        fail(f"{path}: {error}")


def numpy_type(config, data_type: int):
    import numpy as np
    from tritonclient.grpc import model_config_pb2

    types = {model_config_pb2.TYPE_FP32: np.float32, model_config_pb2.TYPE_INT64: np.int64,
             model_config_pb2.TYPE_INT32: np.int32, model_config_pb2.TYPE_FP16: np.float16}
    if data_type not in types:
        fail(f"{config.name}: datatype {model_config_pb2.DataType.Name(data_type)} is not served here")
    return types[data_type]


def check_against_model(config, tower: dict, session) -> None:
    """The config's tensors must be the manifest's and the ONNX graph's: a stand-in that silently served
    another contract would hide exactly the mismatches the client checks for."""
    names = {"inputs": [t.name for t in config.input], "outputs": [t.name for t in config.output]}
    graph = {"inputs": [t.name for t in session.get_inputs()],
             "outputs": [t.name for t in session.get_outputs()]}
    if tower["input"] not in names["inputs"] or tower["output"] not in names["outputs"]:
        fail(f"{config.name}/config.pbtxt names {names}, model.json names input '{tower['input']}' "
             f"and output '{tower['output']}'")
    if sorted(names["inputs"]) != sorted(graph["inputs"]) or not set(names["outputs"]) <= set(graph["outputs"]):
        fail(f"{config.name}/config.pbtxt names {names}, the ONNX graph {tower['file']} has {graph}")


def remove_shared_memory() -> None:
    """Triton's Python backend names its shared-memory regions after this process (PyTriton's prefix);
    a tritonserver that did not unload cleanly leaves them in /dev/shm."""
    for leftover in pathlib.Path("/dev/shm").glob(f"pytrtion{os.getpid()}-*"):
        leftover.unlink(missing_ok=True)


def infer_function(session, inputs: List[str], outputs: List[str]) -> Callable:
    import numpy as np

    def infer(requests):
        # Triton's dynamic batcher merges only requests of equal shapes; grouping by shape keeps each run
        # rectangular even if it ever hands over a mixed list.
        groups: Dict[tuple, List[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(tuple(request[n].shape[1:] for n in inputs), []).append(index)
        responses: List[dict] = [{} for _ in requests]
        for members in groups.values():
            feeds = {n: np.concatenate([requests[i][n] for i in members]) for n in inputs}
            results = session.run(outputs, feeds)
            start = 0
            for i in members:
                rows = requests[i][inputs[0]].shape[0]
                responses[i] = {o: r[start:start + rows] for o, r in zip(outputs, results)}
                start += rows
        return responses

    return infer


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    with_libpython()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s", stream=sys.stderr)

    import onnxruntime as ort
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
    from pytriton.triton import Triton, TritonConfig

    model_dir = args.model_dir.resolve()
    try:
        manifest = json.loads((model_dir / "model.json").read_text())
        files = {part: model_dir / manifest[part]["file"] for _, part in TOWERS}
    except (OSError, ValueError, KeyError, TypeError) as error:
        fail(f"{model_dir}: not a model folder ({error!r})")

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    bindings = []
    for name, part in TOWERS:
        config = read_config(args.repo, name)
        tower = manifest[part]
        if not files[part].is_file():
            fail(f"{files[part]}: no such file (named by {model_dir / 'model.json'})")
        session = ort.InferenceSession(str(files[part]), options, providers=["CPUExecutionProvider"])
        check_against_model(config, tower, session)
        batching = config.max_batch_size > 0
        batcher = config.dynamic_batching
        bindings.append(dict(
            model_name=name,
            infer_func=infer_function(session, [t.name for t in config.input], [t.name for t in config.output]),
            inputs=[Tensor(name=t.name, dtype=numpy_type(config, t.data_type), shape=tuple(t.dims),
                           optional=t.optional) for t in config.input],
            outputs=[Tensor(name=t.name, dtype=numpy_type(config, t.data_type), shape=tuple(t.dims))
                     for t in config.output],
            config=ModelConfig(
                batching=batching,
                max_batch_size=config.max_batch_size,
                batcher=DynamicBatcher(
                    max_queue_delay_microseconds=batcher.max_queue_delay_microseconds,
                    preferred_batch_size=list(batcher.preferred_batch_size) or None,
                ),
            ),
            strict=True,
        ))

    triton_config = TritonConfig(
        grpc_address=args.address, grpc_port=args.grpc_port,
        http_address=args.address, http_port=args.http_port,
        metrics_address=args.address, metrics_port=args.metrics_port,
        allow_gpu_metrics=False,
        # Unloading both models takes a few seconds; cut short, tritonserver leaves shared memory behind.
        exit_timeout_secs=10, log_verbose=1 if args.verbose else 0,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if args.exit_with_stdin:
        threading.Thread(target=lambda: (sys.stdin.buffer.read(), stop.set()), daemon=True).start()

    triton = Triton(config=triton_config)
    try:
        for binding in bindings:
            triton.bind(**binding)
        triton.run()
        print(f"READY grpc={args.grpc_port} http={args.http_port} metrics={args.metrics_port}", flush=True)
        while not stop.wait(1.0):
            if not triton.is_alive():
                print("cpu-server: tritonserver exited", file=sys.stderr, flush=True)
                return 1
        return 0
    finally:
        triton.stop()
        remove_shared_memory()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
