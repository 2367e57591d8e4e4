"""A SparkSession set up for onnxgate, and the Java check Spark needs.

Executors must run the same Python as the driver (the model's reference is unpickled there) and
import the same onnxgate: :func:`session` sets ``spark.pyspark.python`` to this interpreter and
passes onnxgate's folder on ``PYTHONPATH`` to executors (harmless when onnxgate is installed).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from onnxgate.errors import (
    InvalidDataError,
    InvalidModelError,
    MissingDependencyError,
    OnnxGateError,
    UnsupportedModelError,
)

__all__ = ["ARROW_BATCH_ROWS", "SUPPORTED_JAVA", "java_version", "read_parquet", "session", "spark_error",
           "spark_path", "worker_input_error"]

#: Java major versions pyspark 4 runs on.
SUPPORTED_JAVA = (17, 21)
#: Rows per Arrow batch between Spark and its Python workers (one model run each). Every batch costs
#: Spark and the worker a fixed amount: scoring 2,000,000 rows with a 100-tree forest on ``local[2]``
#: was 3-9% faster with 65,536 rows than with 16,384 (bench/bench_spark.py). Spark's own byte limit
#: (``spark.sql.execution.arrow.maxBytesPerBatch``, 64 MB) still keeps batches of wide rows small.
ARROW_BATCH_ROWS = 65_536
#: The driver JVM's log configuration (errors only), unless the user configures Spark's logging.
_LOG_CONFIG = Path(__file__).resolve().parent / "log4j2.properties"
#: A URI's scheme (``hdfs:``, ``s3a:``, ``file:``), two letters or more: ``C:`` is a Windows drive.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
#: Local masters and standalone masters on this machine: the driver binds the loopback interface.
_LOOPBACK = re.compile(r"^(local(\[.*\])?|spark://(127\.0\.0\.1|localhost)(:\d+)?)$")


def java_version() -> int | None:
    """The major version of the ``java`` Spark would start (``JAVA_HOME`` first), or None when absent.

    Examples
    --------
    >>> java_version()  # doctest: +SKIP
    17
    """
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists() else shutil.which("java")
    if java is None:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def _require_java() -> None:
    version = java_version()
    if version is None:
        raise MissingDependencyError(
            f"Spark needs Java {' or '.join(map(str, SUPPORTED_JAVA))}, and no 'java' was found (on PATH or in "
            "JAVA_HOME). Install it, e.g. 'sudo apt-get install openjdk-17-jre-headless', or set JAVA_HOME."
        )
    if version not in SUPPORTED_JAVA:
        raise MissingDependencyError(
            f"Spark needs Java {' or '.join(map(str, SUPPORTED_JAVA))}, found Java {version}. Install Java 17 "
            "(e.g. 'sudo apt-get install openjdk-17-jre-headless') and point JAVA_HOME at it."
        )


def session(
    master: str = "local[*]",
    *,
    app_name: str = "onnxgate",
    ui: bool = False,
    shuffle_partitions: int = 8,
    config: Mapping[str, str] | None = None,
) -> Any:
    """A SparkSession configured for onnxgate.

    Spark runs one SparkContext per process: when a session already runs, it is returned as it is
    (its master unchanged), with the settings Spark can change at run time applied. ``PYSPARK_PYTHON``
    and ``PYSPARK_DRIVER_PYTHON`` are set to this interpreter in ``os.environ``. The driver's JVM it
    starts logs errors only (``onnxgate/spark/log4j2.properties``), unless ``config`` sets
    ``spark.driver.extraJavaOptions`` or ``SPARK_CONF_DIR`` points at the user's own Spark settings.

    Parameters
    ----------
    master : str
        ``local[*]``, ``local[N]``, ``spark://host:port`` (a standalone cluster), or ``sc://host[:port]``
        for Spark Connect (the client needs ``pip install 'pyspark[connect]'``; ``ui``,
        ``shuffle_partitions`` and ``config`` then do not apply: the server's own settings do).
    app_name : str
        The application's name in the cluster's UI.
    ui : bool
        Start the Spark web UI (off by default: it takes a port and start-up time).
    shuffle_partitions : int
        ``spark.sql.shuffle.partitions``; Spark's default of 200 is made for clusters, not one machine.
    config : mapping of str to str, optional
        More Spark settings; they win over onnxgate's.

    Returns
    -------
    pyspark.sql.SparkSession

    Raises
    ------
    MissingDependencyError
        pyspark is not installed, or Java 17/21 is missing.

    Examples
    --------
    >>> import onnxgate.spark
    >>> spark = onnxgate.spark.session("local[2]")  # doctest: +SKIP
    >>> df = spark.read.parquet("rows.parquet")  # doctest: +SKIP
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise MissingDependencyError(
            "onnxgate.spark needs pyspark, which is not installed. Install it with: pip install 'onnxgate[spark]'"
        ) from err
    _check_master(master)
    if master.startswith("sc://"):
        # Spark Connect: the server runs the executors; only the client lives here (no JVM needed).
        try:
            return SparkSession.builder.remote(master).appName(app_name).getOrCreate()
        except Exception as err:
            raise OnnxGateError(
                f"cannot connect to Spark Connect at {master!r}: {spark_error(err)} (the client needs "
                "pip install 'pyspark[connect]' and a running Spark Connect server)"
            ) from err
    _require_java()
    _leave_connect_mode()
    python = sys.executable
    os.environ["PYSPARK_PYTHON"] = python
    os.environ["PYSPARK_DRIVER_PYTHON"] = python
    import onnxgate

    here = str(Path(onnxgate.__file__).resolve().parent.parent)
    paths = [here, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != here]]
    settings: dict[str, str] = {
        "spark.pyspark.python": python,
        "spark.pyspark.driver.python": python,
        "spark.executorEnv.PYTHONPATH": os.pathsep.join(paths),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(ARROW_BATCH_ROWS),
        "spark.ui.enabled": "true" if ui else "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(int(shuffle_partitions)),
    }
    if "SPARK_CONF_DIR" not in os.environ and not _jvm_running():
        # read by the driver's JVM as it starts: Spark's default profile logs its start-up at INFO/WARN
        settings["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={_LOG_CONFIG.as_uri()}"
    if _LOOPBACK.match(master):
        settings["spark.driver.bindAddress"] = "127.0.0.1"
        settings["spark.driver.host"] = "127.0.0.1"
    settings.update(config or {})
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as err:
        raise OnnxGateError(f"cannot start Spark with master {master!r}: {spark_error(err)}") from err
    spark.sparkContext.setLogLevel("ERROR")
    return spark


#: The master URLs Spark takes (local, local[N], local[*], local[N,F], spark://, sc://, yarn, k8s://).
_MASTER = re.compile(r"^(local(\[(\d+|\*)(,\d+)?\])?|spark://[^/\s]+|sc://[^\s]+|yarn|k8s://\S+)$")
#: Seconds a master or Spark Connect server has to accept a connection before onnxgate says it is not there
#: (pyspark itself retries a dead Spark Connect address for more than ten minutes).
CONNECT_TIMEOUT_S = 5.0
_DEFAULT_PORTS = {"spark": 7077, "sc": 15002}


def _check_master(master: str) -> None:
    """Refuse a master URL Spark would refuse with a Java stack trace, and a standalone master or Spark
    Connect server that does not accept a connection, before any JVM or client starts."""
    if not _MASTER.match(master):
        raise InvalidDataError(
            f"--spark/master {master!r} is not a Spark master URL: expected local[N] (or local[*]), "
            "spark://host:port (a standalone master), sc://host[:port] (Spark Connect), yarn or k8s://host:port"
        )
    threads = re.match(r"^local\[0*(\d+)", master)
    if threads and threads.group(1) == "0":
        # Spark refuses it only once its JVM is up: "cannot start Spark with master 'local[0]': :
        # org.apache.spark.SparkException: Asked to run locally with 0 threads", after some 10 s
        raise InvalidDataError(
            f"--spark/master {master!r} asks for 0 threads: expected local[N] with N of 1 or more, or local[*] (one "
            "thread per core)"
        )
    if master == "yarn" and not (os.environ.get("HADOOP_CONF_DIR") or os.environ.get("YARN_CONF_DIR")):
        # Spark says so in a Java stack trace, and the error it raises only that its gateway exited (helper-90)
        raise InvalidDataError(
            "--spark yarn needs HADOOP_CONF_DIR or YARN_CONF_DIR set to the folder of the cluster's Hadoop "
            "configuration (Spark reads the ResourceManager's address there); neither is set"
        )
    scheme = master.split("://", 1)[0]
    if scheme not in _DEFAULT_PORTS:
        return
    import socket
    from urllib.parse import urlsplit

    for hostport in urlsplit(master).netloc.split(","):  # spark://a:7077,b:7077 lists standby masters
        host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
        host = host.strip("[]") or hostport
        try:
            with socket.create_connection((host, int(port or _DEFAULT_PORTS[scheme])), timeout=CONNECT_TIMEOUT_S):
                return
        except (OSError, ValueError):
            continue
    what = "Spark Connect server" if scheme == "sc" else "Spark master"
    raise OnnxGateError(
        f"no {what} answers at {master!r} (nothing accepted a connection within {CONNECT_TIMEOUT_S:g} s): start "
        "it, or check the host and port"
    )


def _jvm_running() -> bool:
    """True when this process already runs Spark's JVM (a SparkContext, live or stopped): Java options
    set now would not reach it, and the user's own options for it stay as they were."""
    from pyspark import SparkContext

    return SparkContext._gateway is not None


def _leave_connect_mode() -> None:
    """Let a classic session start after a Spark Connect session of this process has stopped.

    pyspark marks the process as a Connect client (``SPARK_CONNECT_MODE_ENABLED``) when it creates
    one, and keeps the mark after ``stop()`` (pyspark 4.3, ``sql/session.py``): a classic master asked
    for later would fail with ``CONNECT_URL_NOT_SET``. The mark is dropped only when no Connect
    session is active.
    """
    if "SPARK_CONNECT_MODE_ENABLED" not in os.environ:
        return
    try:
        from pyspark.sql.connect.session import SparkSession as ConnectSession
    except ImportError:  # the mark was set without the Connect client: not pyspark's doing
        return
    if ConnectSession.getActiveSession() is None:
        del os.environ["SPARK_CONNECT_MODE_ENABLED"]


def spark_error(err: BaseException) -> str:
    """The line of a Spark error a user can act on (the Python error inside a Java stack trace)."""
    text = str(err).strip()
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line and ("Error:" in line or "Exception:" in line) and not line.startswith("at "):
            return line
    return text.splitlines()[0] if text else type(err).__name__


def worker_input_error(err: BaseException) -> InvalidDataError | UnsupportedModelError | InvalidModelError | None:
    """The :class:`InvalidDataError` a Python worker raised on its rows (a null feeding an integer
    input, found only when the rows are read), the :class:`UnsupportedModelError` it raised on the
    model's outputs (not one row per input row), or the :class:`InvalidModelError` it raised on a model it
    loads by path and cannot read (:class:`onnxgate.spark._predict.ModelFile`), out of the Java stack trace
    Spark wraps it in; None when the job failed for another reason."""
    found = re.search(r"onnxgate\.errors\.(InvalidDataError|UnsupportedModelError|InvalidModelError): (.+)", str(err))
    if found is None:
        return None
    kinds: dict[str, type[InvalidDataError | UnsupportedModelError | InvalidModelError]] = {
        "InvalidDataError": InvalidDataError, "UnsupportedModelError": UnsupportedModelError,
        "InvalidModelError": InvalidModelError}
    return kinds[found.group(1)](found.group(2).strip())


def check_parquet_path(data: str) -> None:
    """Refuse a local ``data`` that is missing or a file of another format (a ``.csv``), before any Spark
    session starts (a command called it after the session, a JVM start and half a minute, helper-190).

    Raises
    ------
    InvalidDataError
        ``data`` is a local path that does not exist, or a file whose name does not end in ``.parquet``.
    """
    local = "://" not in data
    if local and not Path(data).exists():
        raise InvalidDataError(f"data not found: {data!r}; expected a Parquet file or a folder of them", path=data)
    if local and Path(data).is_file() and Path(data).suffix.lower() != ".parquet":
        raise InvalidDataError(
            f"on Spark, data is read as Parquet: expected a .parquet file or a folder of them, found {data!r}",
            path=data,
        )


def spark_path(path: str | os.PathLike[str]) -> str:
    """``path`` as Spark must be given it: a local relative path made absolute against this process's current
    folder, as its user means it; a URI (``hdfs://``, ``s3a://``, ``file:/``...) as it is.

    Spark resolves a relative path against the folder its JVM was started in (the first session of the
    process, and it stays there when Python changes folder), or the cluster's own: with a session started in
    another folder, ``score --spark --out scored`` failed reading back what it wrote ("[PATH_NOT_FOUND] Path
    does not exist"), and a relative ``--data`` Spark reads was looked for there.
    """
    text = os.fspath(path)
    if _URI.match(text):
        return text
    return str(Path(text).resolve())


def read_parquet(spark: Any, data: str) -> Any:
    """``spark.read.parquet(data)``, refusing a missing local path or another format in one clear message.

    Raises
    ------
    InvalidDataError
        ``data`` does not exist (a local path), is not Parquet, or Spark cannot read it.
    """
    check_parquet_path(data)
    try:
        return spark.read.parquet(spark_path(data))
    except Exception as err:
        raise InvalidDataError(f"Spark cannot read {data!r} as Parquet: {spark_error(err)}", path=data) from err
