"""Spark fixtures: a local session, a real standalone cluster (master + worker) and a Spark Connect
server, all on 127.0.0.1.

Each module gets one session and stops it at its end (a process holds one SparkContext at a time).
The cluster's master and worker, and the Spark Connect server, are separate JVMs started with the
launch classes pyspark ships, and stopped by process id.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent


def _why_not() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "the spark extra is not installed (pip install 'onnxgate[spark]')"
    from onnxgate.spark import java_version

    if java_version() not in (17, 21):
        return "Spark needs Java 17 or 21 and none was found (sudo apt-get install openjdk-17-jre-headless)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [item for item in items if HERE in Path(str(item.fspath)).parents]
    reason = _why_not() if mine else None
    for item in mine:
        item.add_marker(pytest.mark.slow)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def local_spark() -> Iterator[Any]:
    import onnxgate.spark

    spark = onnxgate.spark.session("local[2]")
    yield spark
    spark.stop()


def _spark_class() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    # a new process group, so stopping the launcher stops the JVM it runs
    return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _alive_workers(webui: int) -> int:
    """Workers the master reports alive; 0 while its UI is not up, or (as seen once in CI) still
    answers ``/json/`` with its HTML page during start-up: the caller polls until its deadline."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{webui}/json/", timeout=5) as response:
            return int(json.load(response).get("aliveworkers", 0))
    except (OSError, ValueError):
        return 0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``spark://127.0.0.1:PORT`` of a master with one worker (1 core, 1 GB) running on this machine."""
    import pyspark

    work = tmp_path_factory.mktemp("spark-cluster")
    env = dict(os.environ)
    env.update(
        SPARK_HOME=str(Path(pyspark.__file__).parent),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_WORKER_DIR=str(work / "worker"),
        SPARK_LOG_DIR=str(work / "logs"),
        PYSPARK_PYTHON=sys.executable,
    )
    port, webui, worker_ui = free_port(), free_port(), free_port()
    spark_class = str(_spark_class())
    master = _start(
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
         "--webui-port", str(webui)],
        work / "master.log",
        env,
    )
    url = f"spark://127.0.0.1:{port}"
    worker = _start(
        [spark_class, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "1",
         "--memory", "1g", "--webui-port", str(worker_ui), "--work-dir", str(work / "worker")],
        work / "worker.log",
        env,
    )
    try:
        deadline = time.monotonic() + 180
        while _alive_workers(webui) < 1:
            if master.poll() is not None or worker.poll() is not None or time.monotonic() > deadline:
                logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in work.glob("*.log"))
                pytest.fail(f"the standalone cluster did not come up:\n{logs}")
            time.sleep(1)
        yield url
    finally:
        _stop(worker)
        _stop(master)


def connect_client_missing() -> str | None:
    """Why the Spark Connect client cannot run here (the ``pyspark[connect]`` packages), or None."""
    missing = []
    for module, package in (("grpc", "grpcio"), ("grpc_status", "grpcio-status"),
                            ("google.rpc.status_pb2", "googleapis-common-protos"), ("zstandard", "zstandard")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        return f"the Spark Connect client needs {', '.join(missing)} (pip install 'pyspark[connect]')"
    return None


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``sc://127.0.0.1:PORT`` of a Spark Connect server on ``local[2]``, its Python workers running this Python."""
    import pyspark

    reason = connect_client_missing()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("spark-connect")
    home = Path(pyspark.__file__).parent
    env = dict(os.environ)
    env.update(SPARK_HOME=str(home), SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable, SPARK_CONNECT_MODE="0")
    here = str(HERE.parent.parent)
    paths = os.pathsep.join([here, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
    port = free_port()
    server = _start(
        [str(home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
         "--master", "local[2]", "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
         "--conf", f"spark.connect.grpc.binding.port={port}", "--conf", "spark.driver.host=127.0.0.1",
         "--conf", "spark.driver.bindAddress=127.0.0.1", "--conf", "spark.ui.enabled=false",
         "--conf", f"spark.pyspark.python={sys.executable}", "--conf", f"spark.executorEnv.PYTHONPATH={paths}"],
        work / "connect.log",
        env,
    )
    try:
        deadline = time.monotonic() + 180
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Spark Connect server did not come up:\n{(work / 'connect.log').read_text()[-2000:]}")
            time.sleep(1)
        yield f"sc://127.0.0.1:{port}"
    finally:
        _stop(server)
