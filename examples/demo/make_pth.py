#!/usr/bin/env python3
"""Writes models/selftrain.pth: the committed selftrain.onnx's weights as a PyTorch checkpoint,
so the demo can register a `.pth` and evaluate it through its ONNX twin (graphModelId).

The ONNX file is the unfused export of toy_models.SegModel("tinyseg-mlp") (batch norm kept, the
initializers named as the state dict), so every floating state-dict entry is read from the
initializer of its name; num_batches_tracked (an integer buffer the export drops) keeps its
default. Every floating entry is checked equal to its initializer, and torch.save writes the state
dict in its zip format, in the state dict's own order (module registration order). Re-running
writes the same bytes.

Run: cd examples/demo && /usr/bin/python3 make_pth.py   (Debian: python3-torch, python3-onnx)
"""
import os

import onnx
import torch
from onnx import numpy_helper

from toy_models import SegModel

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    graph = onnx.load(os.path.join(HERE, "models", "selftrain.onnx")).graph
    initializers = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
    net = SegModel("tinyseg-mlp").eval()
    state = net.state_dict()
    missing = [k for k, v in state.items() if v.is_floating_point() and k not in initializers]
    assert not missing, f"not in selftrain.onnx: {missing}"
    with torch.no_grad():
        for name, tensor in state.items():
            if tensor.is_floating_point():
                assert tuple(initializers[name].shape) == tuple(tensor.shape), name
                tensor.copy_(initializers[name])
    for name, tensor in net.state_dict().items():
        if tensor.is_floating_point():
            assert torch.equal(tensor, initializers[name]), name
    torch.save(net.state_dict(), os.path.join(HERE, "models", "selftrain.pth"))
    print("wrote models/selftrain.pth:", len(state), "entries")


if __name__ == "__main__":
    main()
