"""The merge bench:merge's merges do, written as a user would with numpy and the onnx package.

    /usr/bin/python3 bench/mergeNumpy.py OUT ANCHOR CONTRIBUTOR...

LAYERWISE with a LINEAR schedule: the anchor's weight rises from 1/n at the first layer to 1 at
the last, the contributors share the rest equally; each tensor is averaged in float32 and stored
in its own dtype (fp16 by numpy's cast, bf16 rounded to nearest even). Layers are the graph's
nodes that consume weights, in order (ONNX), or the tensors' module paths in file order
(safetensors). The output keeps the anchor's graph. Prints the seconds spent after the imports.
"""

import json
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper


def anchor_weight(layer, count, n):
    t = 1.0 if count == 1 else layer / (count - 1)
    return 1 / n + (1 - 1 / n) * t


def average(arrays, wa):
    n = len(arrays)
    wc = (1 - wa) / (n - 1)
    acc = arrays[0].astype(np.float32) * np.float32(wa)
    for a in arrays[1:]:
        acc += a.astype(np.float32) * np.float32(wc)
    return acc


def tensors_of(model):
    """name -> TensorProto for initializers and Constant nodes' values."""
    out = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    out[node.output[0]] = attr.t
    return out


def merge_onnx(out, files):
    models = [onnx.load(f) for f in files]
    tables = [tensors_of(m) for m in models]
    anchor = models[0]
    layers = {}
    for node in anchor.graph.node:
        if node.op_type == "Constant":
            continue
        names = [i for i in node.input if i in tables[0]]
        if names:
            index = len(set(layers.values()))
            for name in names:
                layers.setdefault(name, index)
    count = len(set(layers.values()))
    for name, proto in tables[0].items():
        arrays = [numpy_helper.to_array(t[name]) for t in tables]
        merged = average(arrays, anchor_weight(layers.get(name, 0), count, len(files))).astype(arrays[0].dtype)
        proto.CopyFrom(numpy_helper.from_array(merged, name))
    onnx.save(anchor, out)


def read_safetensors(file):
    with open(file, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
        data = f.read()
    return header, size, data


def merge_safetensors(out, files):
    parsed = [read_safetensors(f) for f in files]
    header, size, _ = parsed[0]
    names = [k for k in header if k != "__metadata__"]
    paths = []
    for name in names:
        p = name.rsplit(".", 1)[0]
        if not paths or paths[-1] != p:
            paths.append(p)
    layer_of = {p: i for i, p in enumerate(paths)}
    with open(out, "wb") as f:
        f.write(size.to_bytes(8, "little"))
        f.write(json.dumps(header, separators=(",", ":")).encode().ljust(size, b" "))
        for name in names:
            spec = header[name]
            if spec["dtype"] != "BF16":
                raise SystemExit(f"{name}: only bf16 safetensors are merged here")
            arrays = []
            for h, _, d in parsed:
                s, e = h[name]["data_offsets"]
                bits = np.frombuffer(d[s:e], dtype=np.uint16)
                arrays.append((bits.astype(np.uint32) << 16).view(np.float32))
            merged = average(arrays, anchor_weight(layer_of[name.rsplit(".", 1)[0]], len(paths), len(files)))
            bits = merged.view(np.uint32)
            rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
            f.write(rounded.tobytes())


def main():
    out, files = sys.argv[1], sys.argv[2:]
    t0 = time.perf_counter()
    if files[0].endswith(".safetensors"):
        merge_safetensors(out, files)
    else:
        merge_onnx(out, files)
    print(f"{time.perf_counter() - t0:.3f}")


if __name__ == "__main__":
    main()
