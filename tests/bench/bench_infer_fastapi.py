#!/usr/bin/python3
"""The inference benchmark's peer (issue 11, tests/bench/bench_infer.sh): the same model
behind FastAPI + uvicorn with numpy, as a Python team would serve it.

It reads the same package the Lathe inference API serves (model.json and
weights.safetensors: an 8-byte little-endian header length, the JSON header, raw
little-endian F32 tensors named "<layer index>.weight" [out, in] / ".bias" [out]) and runs
the same forward pass: pixels / 255 (the package's "normalize": "unit"), then each dense
layer, ReLU between them, softmax at the end, in float32 with one BLAS thread
(OPENBLAS_NUM_THREADS=1, set before numpy is imported).

Routes, with pydantic-validated bodies:
  POST /v2/models/{m}/infer   OIP v2: {"id"?, "inputs": [{"name", "shape": [n, 784],
                              "datatype": "FP32", "data": [...]}]} (data flat or nested),
                              or the binary extension (Inference-Header-Content-Length:
                              the JSON header, then n x 784 little-endian FP32 bytes,
                              "parameters": {"binary_data_size": bytes}); answers OIP JSON
  POST /invocations           MLflow's {"inputs": [[784 values], ...]}: {"predictions":
                              [class name, ...]} (as MLflow's pyfunc answers for a
                              scikit-learn classifier, and Lathe's /invocations)
  GET  /v2/health/ready       200 once the weights are loaded

Run by uvicorn in this process with ONE worker: uvicorn 0.17 with --workers binds the
socket itself and its workers never set TCP_NODELAY, which would add Nagle/delayed-ACK
stalls to every small response; one worker keeps asyncio's own TCP_NODELAY. uvloop and
httptools are used when installed (uvicorn's "auto"), as a tuned deployment would.

  bench_infer_fastapi.py serve PKG_DIR PORT           the server (127.0.0.1 only)
  bench_infer_fastapi.py forward PKG_DIR N [REPEATS]  numpy's forward pass on an N x 784
        matrix (Fashion-MNIST's test images when installed, cycled; else seeded random
        pixels): prints "bench: infer numpy forward rows=N seconds=S images_per_s=R"
        (the best of REPEATS, default 3; the matrix is built before the clock starts)
  bench_infer_fastapi.py bodies PKG_DIR OUT_DIR N     writes the request bodies the
        benchmark sends (one image, and an N-image binary batch: the same matrix as
        `forward`): infer.json, infer.bin (+ infer.bin.hlen), invocations.json,
        batch.bin (+ batch.bin.hlen), batch_binout.bin (the same asking for binary
        outputs: binary_data_output), and expected.json (numpy's probabilities and
        label of the one image, to check that both servers answer the same)
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import gzip  # noqa: E402
import json  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any, Dict, List, Optional, Union  # noqa: E402

import numpy as np  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


class Model:
    """A package's dense layers, read with numpy; forward() is the whole inference."""

    def __init__(self, pkg_dir: str):
        with open(os.path.join(pkg_dir, "model.json")) as f:
            meta = json.load(f)
        with open(os.path.join(pkg_dir, "weights.safetensors"), "rb") as f:
            raw = f.read()
        (hlen,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8 : 8 + hlen])
        data = raw[8 + hlen :]

        def tensor(name: str) -> np.ndarray:
            t = header[name]
            if t["dtype"] != "F32":
                raise ValueError(f"{name}: dtype {t['dtype']}, F32 expected")
            a, b = t["data_offsets"]
            return np.frombuffer(data, dtype="<f4", count=(b - a) // 4, offset=a).reshape(t["shape"]).copy()

        self.dense = []  # (W^T [in, out], b [out]) in layer order
        for i, layer in enumerate(meta["layers"]):
            if layer["type"] == "dense":
                self.dense.append((np.ascontiguousarray(tensor(f"{i}.weight").T), tensor(f"{i}.bias")))
            elif layer["type"] not in ("flatten", "relu", "softmax"):
                raise ValueError(f"layer {i}: {layer['type']} is not in this benchmark's MLP")
        self.n_in = self.dense[0][0].shape[0]
        self.classes = meta.get("class_names") or []
        self.scale = 1.0 / 255.0 if (meta.get("preprocessing") or {}).get("normalize") == "unit" else 1.0

    def forward(self, pixels: np.ndarray) -> np.ndarray:
        """pixels [n, 784] raw 0..255 -> probabilities [n, k], float32."""
        h = pixels.astype(np.float32, copy=False) * np.float32(self.scale)
        for j, (w, b) in enumerate(self.dense):
            h = h @ w
            h += b
            if j + 1 < len(self.dense):
                np.maximum(h, 0, out=h)
        h -= h.max(axis=1, keepdims=True)
        np.exp(h, out=h)
        h /= h.sum(axis=1, keepdims=True)
        return h


def images(n: int) -> np.ndarray:
    """n x 784 float32 raw pixels: Fashion-MNIST's test images (cycled), else seeded random."""
    if os.path.exists(FMNIST):
        with gzip.open(FMNIST, "rb") as f:
            buf = f.read()
        base = np.frombuffer(buf, dtype=np.uint8, offset=16).reshape(-1, 784)
        idx = np.arange(n) % base.shape[0]
        return base[idx].astype(np.float32)
    return np.random.default_rng(7).integers(0, 256, size=(n, 784)).astype(np.float32)


def serve(pkg_dir: str, port: int) -> None:
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ValidationError, conlist

    model = Model(pkg_dir)
    app = FastAPI()

    class InferInput(BaseModel):
        name: str
        shape: conlist(int, min_items=1, max_items=4)
        datatype: str
        parameters: Optional[Dict[str, Any]] = None
        data: Optional[List[Union[float, List[float]]]] = None

    class InferRequest(BaseModel):
        id: Optional[str] = None
        parameters: Optional[Dict[str, Any]] = None
        inputs: conlist(InferInput, min_items=1, max_items=1)

    class Invocations(BaseModel):
        inputs: List[conlist(float, min_items=784, max_items=784)]

    def error(status: int, msg: str) -> JSONResponse:
        return JSONResponse({"error": msg}, status_code=status)

    def rows(t: InferInput, blob: Optional[bytes]) -> np.ndarray:
        if t.datatype != "FP32":
            raise ValueError(f"datatype {t.datatype}: FP32 expected")
        n = 1
        for d in t.shape:
            n *= d
        if n == 0 or n % model.n_in:
            raise ValueError(f"shape {t.shape}: rows of {model.n_in} values expected")
        if blob is not None:
            if len(blob) != n * 4:
                raise ValueError(f"{len(blob)} bytes of binary data, {n * 4} expected")
            x = np.frombuffer(blob, dtype="<f4")
        else:
            if t.data is None:
                raise ValueError("no data")
            x = np.asarray(t.data, dtype=np.float32).reshape(-1)
            if x.size != n:
                raise ValueError(f"{x.size} values for shape {t.shape}")
        return x.reshape(-1, model.n_in)

    @app.get("/v2/health/ready")
    async def ready():
        return {"ready": True}

    @app.post("/v2/models/{name}/infer")
    async def infer(name: str, request: Request):
        body = await request.body()
        hlen = request.headers.get("inference-header-content-length")
        try:
            if hlen is not None:
                k = int(hlen)
                req = InferRequest.parse_raw(body[:k])
                blob = body[k:]
            else:
                req = InferRequest.parse_raw(body)
                blob = None
            x = rows(req.inputs[0], blob)
        except (ValidationError, ValueError) as e:
            return error(400, str(e))
        p = model.forward(x)
        out = {
            "model_name": name,
            "model_version": "1",
            "outputs": [{"name": "probabilities", "shape": list(p.shape), "datatype": "FP32", "data": p.ravel().tolist()}],
        }
        if req.id is not None:
            out["id"] = req.id
        return JSONResponse(out)

    @app.post("/invocations")
    async def invocations(req: Invocations):
        # a classifier's predicted class names, as MLflow's pyfunc of a scikit-learn
        # classifier answers (and Lathe's /invocations)
        p = model.forward(np.asarray(req.inputs, dtype=np.float32))
        return JSONResponse({"predictions": [model.classes[j] for j in p.argmax(axis=1)]})

    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


def forward(pkg_dir: str, n: int, repeats: int) -> None:
    model = Model(pkg_dir)
    x = images(n)
    model.forward(x[:64])  # warm-up: BLAS buffers, page faults
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.forward(x)
        best = min(best, time.perf_counter() - t0)
    print(f"bench: infer numpy forward rows={n} seconds={best:.4f} images_per_s={n / best:.0f}")


def bodies(pkg_dir: str, out: str, n: int) -> None:
    model = Model(pkg_dir)
    x = images(max(n, 1))
    one = x[:1]
    data = [int(v) for v in one[0]]  # raw pixels are whole numbers: JSON as a client sends them
    os.makedirs(out, exist_ok=True)

    def write(name: str, b: bytes) -> None:
        with open(os.path.join(out, name), "wb") as f:
            f.write(b)

    infer = {"inputs": [{"name": "input", "shape": [1, 784], "datatype": "FP32", "data": data}]}
    write("infer.json", json.dumps(infer, separators=(",", ":")).encode())
    write("invocations.json", json.dumps({"inputs": [data]}, separators=(",", ":")).encode())
    for name, m, binout in (("infer.bin", one, False), ("batch.bin", x[:n], False), ("batch_binout.bin", x[:n], True)):
        req = {
            "inputs": [
                {
                    "name": "input",
                    "shape": [m.shape[0], 784],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": m.nbytes},
                }
            ]
        }
        if binout:
            req["parameters"] = {"binary_data_output": True}
        h = json.dumps(req, separators=(",", ":")).encode()
        write(name, h + m.astype("<f4").tobytes())
        write(name + ".hlen", str(len(h)).encode())
    p = model.forward(one)[0]
    write("expected.json", json.dumps({"probabilities": p.tolist(), "label": model.classes[int(p.argmax())]}).encode())


def main(argv: List[str]) -> int:
    if len(argv) >= 4 and argv[1] == "serve":
        serve(argv[2], int(argv[3]))
    elif len(argv) >= 4 and argv[1] == "forward":
        forward(argv[2], int(argv[3]), int(argv[4]) if len(argv) > 4 else 3)
    elif len(argv) == 5 and argv[1] == "bodies":
        bodies(argv[2], argv[3], int(argv[4]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
