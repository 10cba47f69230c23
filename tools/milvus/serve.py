"""Runs the Milvus of the `milvus` package (Milvus 2.3 standalone: etcd inside the process, rocksmq and
local storage under --data) on ports of our choosing, for tests and benchmarks.

The package's own `milvus-server` command cannot serve here: it takes the metrics port and the embedded
etcd's ports from fixed defaults (9091, 2379, 2380), so two servers started at once (two Jest workers)
collide, and it keeps running after the Milvus process under it died. This script picks every port of a
data folder once (kept in <data>/ports.json, so a restart on that folder binds the same ones and the
addresses Milvus recorded in its etcd stay true), renders the package's config with them, starts the
Milvus binary and prints one line `STARTED proxy=<port> metrics=<port> pid=<pid>`. It exits with Milvus's
exit status when Milvus exits; on SIGTERM or SIGINT (and, with --exit-with-stdin, when stdin closes: its
parent is gone) it stops Milvus, and kills it when it has not stopped within --stop-grace seconds
(Milvus 2.3's graceful stop can hang for minutes).

The Milvus binary and its libraries (250 MB, compressed in the package) are unpacked once per venv, into
<venv>/milvus-runtime/bin, rather than into every data folder.
"""
import argparse
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from os.path import join

from milvus import MilvusServerConfig, _initialize_data_files

# The ports MilvusServerConfig renders into milvus.yaml (its `*_port` items) besides the proxy's, plus the
# embedded etcd's peer port and the metrics (HTTP) port, which it does not.
INTERNAL_PORTS = (
    "etcd_port",
    "root_coord_port",
    "proxy_internal_port",
    "query_coord_port",
    "query_node_port",
    "index_coord_port",
    "index_node_port",
    "data_coord_port",
    "data_node_port",
    "etcd_peer_port",
    "metrics_port",
)


def free_ports(count):
    """`count` distinct ports free a moment ago (all held until each is chosen, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def folder_ports(data_dir, proxy_port):
    """The ports of this data folder: chosen on its first start, the same on every later one."""
    path = join(data_dir, "ports.json")
    try:
        with open(path, encoding="utf-8") as f:
            ports = json.load(f)
    except FileNotFoundError:
        ports = dict(zip(INTERNAL_PORTS, free_ports(len(INTERNAL_PORTS))))
    if any(key not in ports for key in INTERNAL_PORTS):
        raise SystemExit(f"{path} lacks some of {', '.join(INTERNAL_PORTS)}: remove it to choose new ports")
    ports["proxy_port"] = proxy_port
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(ports, f)
    os.replace(path + ".tmp", path)
    return ports


def unpack_runtime(runtime_dir):
    """The package's binaries under runtime_dir/bin, unpacked by one process at a time."""
    os.makedirs(runtime_dir, exist_ok=True)
    with open(join(runtime_dir, ".lock"), "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Unpacks only what is missing or changed (it keeps a checksum beside each file).
        _initialize_data_files(runtime_dir)
    return join(runtime_dir, "bin")


def write_etcd_config(data_dir, ports):
    """The embedded etcd's listen addresses (Milvus reads this file through ETCD_CONFIG_PATH)."""
    path = join(data_dir, "configs", "etcd.yaml")
    client = f"http://127.0.0.1:{ports['etcd_port']}"
    peer = f"http://127.0.0.1:{ports['etcd_peer_port']}"
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            f"name: default\n"
            f"listen-client-urls: {client}\n"
            f"advertise-client-urls: {client}\n"
            f"listen-peer-urls: {peer}\n"
            f"initial-advertise-peer-urls: {peer}\n"
            f"initial-cluster: default={peer}\n"
        )
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the data folder (created when absent)")
    parser.add_argument("--port", type=int, default=19530, help="the gRPC (proxy) port clients connect to")
    parser.add_argument("--stop-grace", type=float, default=10.0, help="seconds to wait for Milvus to stop")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a value of milvus.yaml by its dotted path (queryNode.segcore.interimIndex.nprobe=64); "
                             "the key must be one the package's config template has")
    parser.add_argument("--runtime", default=join(sys.prefix, "milvus-runtime"),
                        help="where the Milvus binaries are unpacked (default: <venv>/milvus-runtime)")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="stop when stdin reaches its end (a parent holding the pipe has exited)")
    args = parser.parse_args()

    data_dir = os.path.abspath(args.data)
    os.makedirs(join(data_dir, "configs"), exist_ok=True)
    ports = folder_ports(data_dir, args.port)
    config = MilvusServerConfig(data_dir=data_dir)
    # Not config.resolve(): it test-binds each port without SO_REUSEADDR, which fails on a restart while
    # the previous run's connections linger in TIME_WAIT (Milvus itself binds them fine).
    config.resolve_storage()
    for key, port in ports.items():
        if key in config.configurable_items:
            config.set(key, port)
    for setting in args.set:
        key, separator, value = setting.partition("=")
        if not separator:
            raise SystemExit(f"--set {setting}: expected KEY=VALUE")
        config.set(key.strip(), value.strip())
    config.write_config()
    bin_dir = unpack_runtime(os.path.abspath(args.runtime))
    etcd_config = write_etcd_config(data_dir, ports)

    env = dict(os.environ)
    env.update(
        DEPLOY_MODE="STANDALONE",
        MILVUSCONF=join(data_dir, "configs"),
        METRICS_PORT=str(ports["metrics_port"]),
        MILVUS_RUN_DIR=join(data_dir, "run"),
        ETCD_CONFIG_PATH=etcd_config,
        LD_LIBRARY_PATH=":".join(filter(None, [bin_dir, os.environ.get("LD_LIBRARY_PATH")])),
    )
    logs = join(data_dir, "logs")
    with open(join(logs, "milvus-stdout.log"), "a", encoding="utf-8") as out, \
            open(join(logs, "milvus-stderr.log"), "a", encoding="utf-8") as err:
        child = subprocess.Popen([join(bin_dir, "milvus"), "run", "standalone"], cwd=data_dir, env=env, stdout=out, stderr=err,
                                 stdin=subprocess.DEVNULL)

    stop = threading.Event()

    def stopper():
        stop.wait()
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=args.stop_grace)
            except subprocess.TimeoutExpired:
                child.kill()

    threading.Thread(target=stopper, daemon=True).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.exit_with_stdin:
        threading.Thread(target=lambda: (sys.stdin.buffer.read(), stop.set()), daemon=True).start()

    print(f"STARTED proxy={ports['proxy_port']} metrics={ports['metrics_port']} pid={child.pid}", flush=True)
    code = child.wait()
    stop.set()
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
