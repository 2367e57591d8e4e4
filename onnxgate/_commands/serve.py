"""``onnxgate serve DIR``: run a container package's score.py behind a local HTTP service."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from onnxgate.deploy.server import MAX_WORKERS, WORKER_CRASH_LOOP_DEATHS, WORKER_HANG_SECONDS
from onnxgate.errors import InvalidDataError, PackagingError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a container package (score.py) over HTTP: Azure ML routes and the Open Inference Protocol",
        description=(
            "Serve a folder written by 'onnxgate package MODEL --target container -o DIR' with the routes "
            "of the Azure ML inference server (GET / (health), POST /score, GET /swagger.json) and of the "
            "Open Inference Protocol v2 (/v2/health/live, /v2/health/ready, /v2/models/NAME[/ready|/infer], "
            "JSON and binary tensors; NAME is the package's service name). Stops gracefully on "
            "SIGTERM/Ctrl-C (in-flight requests finish, exit code 0)."
        ),
    )
    p.add_argument("dir", help="the container package folder")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; use 0.0.0.0 only to expose the service)")
    p.add_argument("--port", type=int, default=5001, help="port (default 5001)")
    p.add_argument("--api-key-env", metavar="NAME", default=None,
                   help="require 'Authorization: Bearer <key>' with the key read from this environment variable")
    p.add_argument("--workers", type=int, default=1,
                   help=f"worker processes (default 1, at most {MAX_WORKERS}: one per core of a {MAX_WORKERS}-core "
                        "host), each loading the model, under a supervisor; one that dies "
                        "is replaced (later each time while workers keep dying soon after they start), one whose "
                        "event loop or scoring call hangs for --hang-seconds (a request that hangs the model) is "
                        "killed and replaced; "
                        f"one that cannot load the package, {WORKER_CRASH_LOOP_DEATHS} quick deaths in a row, or "
                        f"{WORKER_CRASH_LOOP_DEATHS} workers killed hung in a row with no request answered in between, "
                        "stop the service (exit 3); SIGHUP does not reload")
    p.add_argument("--hang-seconds", type=float, default=WORKER_HANG_SECONDS, metavar="SECONDS",
                   help=f"a worker whose event loop has not run for this long, or one of whose scoring calls has run "
                        f"this long, is killed and replaced (default {WORKER_HANG_SECONDS:g}); a request hung in the "
                        "thread pool or on the event loop, and the others waiting for that worker, get 503 with "
                        "Retry-After first")
    p.add_argument("--max-rows", type=int, default=None, help="rows per request (default: the package's limit)")
    p.add_argument("--max-body-bytes", type=int, default=None,
                   help="larger request bodies get 413 (default 16 MiB)")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from onnxgate._files import describe_unreachable
    from onnxgate.deploy import server

    folder = Path(args.dir)
    if not folder.exists():  # missing, a link to nothing, or a link that loops
        if folder.is_symlink():
            raise PackagingError(f"{describe_unreachable(folder, 'package folder')}: expected a folder written by "
                                 "'onnxgate package MODEL --target container -o DIR'", path=str(folder))
        raise PackagingError(f"{str(folder)!r} does not exist: expected a folder written by 'onnxgate package'; "
                             "check the path, or write the package first with 'onnxgate package MODEL.onnx --target "
                             f"container -o {shlex.quote(str(folder))}'", path=str(folder))
    if not folder.is_dir():
        raise PackagingError(_file_not_folder(folder), path=str(folder))
    from onnxgate._package_rules import mismatched_package

    mismatch = mismatched_package(folder, "service", "serve")
    if mismatch is not None:
        raise PackagingError(mismatch, path=str(folder))
    missing = [f for f in ("score.py", "model.onnx") if not (folder / f).is_file()]
    if missing:
        raise PackagingError(
            f"{str(folder)!r} is not a container package (missing {missing}); write one with "
            "'onnxgate package MODEL --target container -o DIR'",
            path=str(folder),
        )
    problem = server.argument_error(args)  # the container's server.py says the same
    if problem:
        raise InvalidDataError(problem)
    try:
        address = server.check_can_listen(args.host, args.port)
    except server.ServeError as err:
        raise InvalidDataError(str(err)) from None
    _check_manifest(folder)
    if not args.api_key_env and not _loopback(address):
        print(f"onnxgate serve: warning: serving on {args.host} without --api-key-env: anyone who can reach port "
              f"{args.port} can score with the model; pass --api-key-env NAME to require a key", file=sys.stderr)
    try:
        server.serve(
            folder,
            host=args.host,
            port=args.port,
            api_key_env=args.api_key_env,
            workers=args.workers,
            max_rows=args.max_rows,
            max_body_bytes=args.max_body_bytes or server.DEFAULT_MAX_BODY_BYTES,
            access_log=args.access_log,
            hang_seconds=args.hang_seconds,
        )
    except server.ServeError as err:
        raise PackagingError(str(err)) from err
    return 0


def _file_not_folder(path: Path) -> str:
    """What to do with a file given where serve reads a package folder: the command packaging an .onnx file,
    the folder holding it when it is a package's own model.onnx, convert first for a native model."""
    found = f"{str(path)!r} is a file, not a package folder: serve runs a folder written by 'onnxgate package'"
    parent = path.parent
    if path.name == "model.onnx" and (parent / "score.py").is_file():
        return (f"{found}; this file is the model of the package {str(parent)!r}: "
                f"'onnxgate serve {shlex.quote(str(parent))}'")
    out = shlex.quote(str(path.with_name(path.stem + "_pkg")))
    if path.suffix.lower() == ".onnx":
        return (f"{found}; package it first with 'onnxgate package {shlex.quote(str(path))} --target container "
                f"-o {out}', then 'onnxgate serve {out}'")
    return (f"{found}; convert the model to ONNX ('onnxgate convert MODEL --sample ROWS -o model.onnx'), then "
            "'onnxgate package model.onnx --target container -o DIR' and 'onnxgate serve DIR'")


def _check_manifest(folder: Path) -> None:
    """Refuse a container package whose ``manifest.json`` is missing, is no JSON object, or is damaged
    (:func:`onnxgate._package_rules.manifest_problem`): it was served with exit 0 under the name 'onnx-model'
    (the manifest's service name lost), where ``score`` and ``sql-dryrun`` refuse such a folder (helper-358)."""
    import json

    from onnxgate._package_rules import manifest_problem

    path = folder / "manifest.json"
    fix = "write the package again with 'onnxgate package MODEL --target container -o DIR'"
    problem: str | None
    if not path.is_file():
        problem = "is missing" if not path.exists() else "is a folder"
    else:
        try:
            parsed = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            problem = f"is not readable JSON ({err})"
        except OSError as err:
            problem = f"cannot be read ({err.strerror})"
        else:
            if not isinstance(parsed, dict):
                problem = f"is a JSON {type(parsed).__name__}, not an object"
            elif (found := manifest_problem(parsed)) is not None:
                raise PackagingError(f"{str(path)!r} is damaged: {found} (it names the service, and the "
                                     f"Dockerfile copies it); {fix}", path=str(path))
            else:
                problem = None
    if problem is not None:
        raise PackagingError(
            f"{str(path)!r} {problem}: expected the manifest 'onnxgate package' writes beside a container package's "
            f"score.py (it names the service, and the Dockerfile copies it); {fix}",
            path=str(path),
        )


def _loopback(address: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False
