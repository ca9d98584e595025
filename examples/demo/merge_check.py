#!/usr/bin/python3
"""Independent PyTorch/numpy cross-check of the registry's merges of the demo models.

    cd examples/demo && /usr/bin/python3 merge_check.py      # after generate.py; ~20 s

Reads the committed ONNX files and dataset PNGs (not generate.py's memory), merges initializers
with the layer-wise formula of docs/CONVENTIONS.md, loads the result into the PyTorch module of
the anchor's architecture and evaluates it with toy_eval (the registry's conventions). Writes
merge_check.json: per merge, the scores and, per merged tensor, its layer index, anchor weight
and float64 sum, so that a registry merge can be compared tensor by tensor.

Layer-wise weights (docs/CONVENTIONS.md, arXiv 2409.15813): anchor a with L layers, layer
l = 0..L-1 in forward order, a tensor shared (same name and shape) by N models:
    t = l / (L - 1);  w_a = 1/N + (1 - 1/N) s(t);  w_i = (1 - w_a) / (N - 1);  θ = Σ w_k θ_k
with s(t) = t (LINEAR) or s ≡ 0 (UNIFORM). Tensors the anchor alone has come from it unchanged.
A layer is the group of initializers first consumed by one node, nodes taken in a topological
order that is stable with respect to the node list (Kahn's algorithm, ready nodes by position).
"""
import heapq
import json
import os

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from PIL import Image

from toy_data import CLASSES, IGNORE, THING_IDS
from toy_eval import POSTPROCESS, PanopticQuality, mean_iou, postprocess, predict
from toy_models import NUM_CLASSES, SegModel

HERE = os.path.dirname(os.path.abspath(__file__))

# (label, anchor, contributors, schedule). The first two are the ones the brief asks for.
MERGES = [
    ("uniform a+b+c", "selftrain", ["source-only", "augment"], "UNIFORM"),
    ("layerwise a+b+c", "selftrain", ["source-only", "augment"], "LINEAR"),
    ("layerwise selftrain+ckpt", "selftrain", ["selftrain-ckpt"], "LINEAR"),
    ("cross-arch layerwise fcn<-mlp", "fcn-head", ["selftrain"], "LINEAR"),
    ("cross-arch uniform fcn<-mlp", "fcn-head", ["selftrain"], "UNIFORM"),
    ("panoptic<-selftrain layerwise", "panoptic", ["selftrain"], "LINEAR"),
    ("panoptic<-selftrain uniform", "panoptic", ["selftrain"], "UNIFORM"),
]


def stable_topological_order(graph):
    """Node indices in a topological order; among ready nodes the earliest in the list goes first."""
    produced_by = {}
    for i, node in enumerate(graph.node):
        for out in node.output:
            produced_by[out] = i
    deps = [set(produced_by[x] for x in node.input if x in produced_by and produced_by[x] != i) for i, node in enumerate(graph.node)]
    users = [[] for _ in graph.node]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    remaining = [len(d) for d in deps]
    ready = [i for i, r in enumerate(remaining) if r == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            remaining[u] -= 1
            if remaining[u] == 0:
                heapq.heappush(ready, u)
    assert len(order) == len(graph.node), "graph has a cycle"
    return order


def load(name, manifest):
    entry = next(m for m in manifest["models"] if m["name"] == name)
    model = onnx.load(os.path.join(HERE, entry["file"]))
    tensors = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    layer = {}
    count = 0
    for i in stable_topological_order(model.graph):
        fresh = [x for x in model.graph.node[i].input if x in tensors and x not in layer]
        for x in fresh:
            layer[x] = count
        if fresh:
            count += 1
    return entry, tensors, layer, count


def merge(anchor, contributors, schedule, manifest):
    a_entry, a_tensors, a_layer, L = load(anchor, manifest)
    others = [load(c, manifest)[1] for c in contributors]
    merged, report = {}, {}
    for name, theta_a in a_tensors.items():
        sharing = [o[name] for o in others if name in o and o[name].shape == theta_a.shape]
        n = 1 + len(sharing)
        l = a_layer[name]
        t = 1.0 if L == 1 else l / (L - 1)
        s = t if schedule == "LINEAR" else 0.0
        w_a = 1 / n + (1 - 1 / n) * s
        if n == 1 or not np.issubdtype(theta_a.dtype, np.floating):
            merged[name] = theta_a
            w_a = 1.0
        else:
            w_i = (1 - w_a) / (n - 1)
            acc = w_a * theta_a.astype(np.float64)
            for th in sharing:
                acc += w_i * th.astype(np.float64)
            merged[name] = acc.astype(theta_a.dtype)
        report[name] = {"layer": l, "sharedBy": n, "anchorWeight": w_a, "sum": float(merged[name].astype(np.float64).sum())}
    return a_entry, merged, report, L


def read_split(folder, panoptic):
    root = os.path.join(HERE, folder)
    names = sorted(os.listdir(os.path.join(root, "images")))
    images = np.stack([np.asarray(Image.open(os.path.join(root, "images", n)).convert("RGB")) for n in names])
    labels = np.stack([np.asarray(Image.open(os.path.join(root, "labels", n))) for n in names]).astype(np.int64)
    gts = None
    if panoptic:
        with open(os.path.join(root, "panoptic.json")) as f:
            coco = json.load(f)
        by_file = {a["file_name"]: a for a in coco["annotations"]}
        gts = []
        for n in names:
            rgb = np.asarray(Image.open(os.path.join(root, "panoptic", n)).convert("RGB")).astype(np.int64)
            ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
            segs = {s["id"]: (s["category_id"], ids == s["id"]) for s in by_file[n]["segments_info"]}
            gts.append((segs, ids == 0))
    return images, labels, gts


def evaluate(model, split, panoptic):
    images, labels, gts = split
    sem, heads = predict(model, images)
    out = {"mIoU": mean_iou(sem, labels, NUM_CLASSES, IGNORE)[0]}
    if panoptic:
        pq = PanopticQuality(CLASSES)
        for k in range(len(images)):
            pred = postprocess(heads[0][k], heads[1][k], heads[2][k], THING_IDS, POSTPROCESS)
            pq.add(gts[k][0], gts[k][1], pred, POSTPROCESS["labelDivisor"])
        out["PQ"] = pq.result()["all"]["pq"]
    return out


def to_module(entry, tensors):
    model = SegModel(entry["architecture"])
    state = model.state_dict()
    for k in state:
        if k in tensors:
            state[k] = torch.as_tensor(np.array(tensors[k]))
    model.load_state_dict(state)
    return model.eval()


def main():
    torch.set_num_threads(1)
    with open(os.path.join(HERE, "manifest.json")) as f:
        manifest = json.load(f)
    splits = {}
    for key, folder in (("source", "datasets/source/val"), ("target", "datasets/target/val")):
        splits[key] = read_split(folder, True)
    results = {"merges": [], "models": {}}
    print(f"{'model / merge':<34}{'src-val mIoU':>13}{'tgt-val mIoU':>13}{'tgt PQ':>8}   vs best parent (target)")
    scores = {}
    for m in manifest["models"]:
        entry, tensors, _, _ = load(m["name"], manifest)
        pan = entry["task"] == "PANOPTIC"
        model = to_module(entry, tensors)
        s, t = evaluate(model, splits["source"], pan), evaluate(model, splits["target"], pan)
        scores[m["name"]] = t
        results["models"][m["name"]] = {"sourceVal": s, "targetVal": t}
        print(f"{m['name']:<34}{100 * s['mIoU']:>13.1f}{100 * t['mIoU']:>13.1f}{(100 * t['PQ'] if pan else float('nan')):>8.1f}")
    for label, anchor, contributors, schedule in MERGES:
        entry, merged, report, L = merge(anchor, contributors, schedule, manifest)
        pan = entry["task"] == "PANOPTIC"
        model = to_module(entry, merged)
        s, t = evaluate(model, splits["source"], pan), evaluate(model, splits["target"], pan)
        metric = "PQ" if pan else "mIoU"
        best = max([n for n in [anchor] + contributors if metric in scores[n]], key=lambda n: scores[n][metric])
        gain = t[metric] - scores[best][metric]
        shared = sum(1 for r in report.values() if r["sharedBy"] > 1)
        print(f"{label:<34}{100 * s['mIoU']:>13.1f}{100 * t['mIoU']:>13.1f}{(100 * t['PQ'] if pan else float('nan')):>8.1f}   "
              f"{100 * gain:+.1f} {metric} vs {best} ({shared}/{len(report)} tensors merged, L={L})")
        results["merges"].append({"label": label, "anchor": anchor, "contributors": contributors, "schedule": schedule,
                                  "layers": L, "sourceVal": s, "targetVal": t, "bestParent": best,
                                  "gainVsBestParent": gain, "tensors": report})
    with open(os.path.join(HERE, "merge_check.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
