"""Start `onnxgate serve` on a free loopback port, score three rows once, compare with onnxruntime, stop it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def main(package_dir: str, data_path: str) -> int:
    import numpy as np
    import onnxruntime as ort

    from onnxgate._data import as_feeds, load_data
    from onnxgate.signature import Signature

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    onnxgate = str(Path(sys.executable).with_name("onnxgate"))
    proc = subprocess.Popen([onnxgate, "serve", package_dir, "--port", str(port)], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    print("demo: the service did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        frame = load_data(data_path).head(3)
        model = str(Path(package_dir) / "model.onnx")
        sig = Signature.from_model(model)
        body = {"data": {c: frame[c].tolist() for c in frame.columns}}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/score", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            answer = json.loads(urllib.request.urlopen(req, timeout=10).read())
        except urllib.error.HTTPError as err:
            print(f"demo: POST /score answered {err.code}: {err.read().decode()}", file=sys.stderr)
            return 1
        direct = ort.InferenceSession(model).run(None, as_feeds(frame, sig))
        for spec, want in zip(sig.outputs, direct):
            got = np.asarray(answer[spec.name])
            np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-6, atol=1e-6)
        print(f"demo: POST /score on 127.0.0.1:{port} -> {json.dumps(answer)[:200]}")
        print("demo: service answers equal direct onnxruntime")
        return 0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
