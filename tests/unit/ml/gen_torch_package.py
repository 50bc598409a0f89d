"""Writes the PyTorch-made model package that tests/unit/ml/test_package.c reads.

A small nn.Sequential (conv2d, relu, maxpool, flatten, dense, tanh, sigmoid, dropout,
softmax) with seeded weights, its state_dict in safetensors written by hand (the
safetensors package is not in Debian: 8-byte little-endian header length, JSON header
padded with spaces to a multiple of 8, raw little-endian data), a hand-written
model.json, inputs x.bin (float32 [7, 2, 8, 8]) and PyTorch's outputs expected.bin
(float32 [7, 5]). The files are committed, so the test needs no torch (whose import
takes seconds); run this with Debian's /usr/bin/python3 (python3-torch) to remake them:

    /usr/bin/python3 tests/unit/ml/gen_torch_package.py tests/unit/ml/torch_package
"""
import json
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(20261205)
model = nn.Sequential(
    nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
    nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 12), nn.Sigmoid(), nn.Dropout(0.3),
    nn.Linear(12, 5), nn.Softmax(dim=1))
model.eval()

header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
for name, t in model.state_dict().items():
    data = t.detach().contiguous().numpy().astype("<f4").tobytes()
    header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
    blobs.append(data)
    off += len(data)
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)
with open(os.path.join(out, "weights.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))

layers = [{"type": "conv2d", "filters": 4, "kernel": 3, "padding": 1}, {"type": "relu"},
          {"type": "maxpool", "pool": 2}, {"type": "flatten"}, {"type": "dense", "units": 16},
          {"type": "tanh"}, {"type": "dense", "units": 12}, {"type": "sigmoid"},
          {"type": "dropout", "rate": 0.3}, {"type": "dense", "units": 5}, {"type": "softmax"}]
model_json = {"format_version": 1, "task": "classification", "layers": layers,
              "input": {"shape": [2, 8, 8], "dtype": "float32"},
              "preprocessing": {"kind": "image", "size": [8, 8], "channels": 2, "normalize": "unit"},
              "class_names": ["ant", "bee", "cat", "dog", "eel"],
              "dataset": "made-in-torch@0", "metrics": {"accuracy": 0.5}}
with open(os.path.join(out, "model.json"), "w") as f:
    json.dump(model_json, f, indent=2)
    f.write("\n")

x = torch.randn(7, 2, 8, 8)
with torch.no_grad():
    y = model(x)
x.numpy().astype("<f4").tofile(os.path.join(out, "x.bin"))
y.numpy().astype("<f4").tofile(os.path.join(out, "expected.bin"))
