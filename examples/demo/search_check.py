#!/usr/bin/python3
"""Independent PyTorch check of the merge search's label-free objectives on the demo models.

    cd examples/demo && /usr/bin/python3 search_check.py      # ~10 s

For the first LIMIT images of the target validation split (listing order), every demo model
(the panoptic one by its semantic head) and one merge (the UNIFORM soup of selftrain and source-only, merged by
merge_check.merge) is run in PyTorch from the committed ONNX weights. From its logits, at the
image's size, in float64 (docs/CONVENTIONS.md, Merge search):
    p = softmax over classes;  H(p) = -sum p log p (0 log 0 = 0);  p_bar = mean p over all pixels
    INFO_MAX = H(p_bar) - mean H(p);  ENTROPY = -mean H(p)
Writes search_check.json.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from merge_check import load, merge, to_module
from toy_eval import normalise

HERE = os.path.dirname(os.path.abspath(__file__))
LIMIT = 20
SPLIT = "datasets/target/val"


def objectives(model, images):
    with torch.no_grad():
        out = model(normalise(images))
    logits = (out[0] if isinstance(out, tuple) else out).double()
    if logits.shape[-2:] != images.shape[1:3]:
        logits = F.interpolate(logits, size=images.shape[1:3], mode="bilinear", align_corners=False)
    p = torch.softmax(logits, dim=1)  # [N, C, H, W]
    plogp = torch.where(p > 0, p * torch.log(p), torch.zeros_like(p))
    h = -plogp.sum(1)  # [N, H, W]
    mean_h = h.mean().item()
    p_bar = p.mean(dim=(0, 2, 3))
    h_bar = -float(sum(v * np.log(v) for v in p_bar.tolist() if v > 0))
    return {"INFO_MAX": h_bar - mean_h, "ENTROPY": -mean_h}


def main():
    torch.set_num_threads(1)
    with open(os.path.join(HERE, "manifest.json")) as f:
        manifest = json.load(f)
    root = os.path.join(HERE, SPLIT, "images")
    names = sorted(os.listdir(root))[:LIMIT]
    images = np.stack([np.asarray(Image.open(os.path.join(root, n)).convert("RGB")) for n in names])
    out = {"split": SPLIT, "limit": LIMIT, "images": names, "models": {}, "merges": []}
    for m in manifest["models"]:
        # the panoptic model is checked on its semantic head, which label-free criteria read
        entry, tensors, _, _ = load(m["name"], manifest)
        out["models"][m["name"]] = objectives(to_module(entry, tensors), images)
        print(m["name"], out["models"][m["name"]])
    entry, merged, _, _ = merge("selftrain", ["source-only"], "UNIFORM", manifest)
    value = objectives(to_module(entry, merged), images)
    out["merges"].append({"anchor": "selftrain", "contributors": ["source-only"], "schedule": "UNIFORM", **value})
    print("uniform soup", value)
    with open(os.path.join(HERE, "search_check.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
