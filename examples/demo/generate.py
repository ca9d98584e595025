#!/usr/bin/python3
"""Generate the demo's synthetic UDA data and train its six small models.

Run with Debian's PyTorch (the pyenv python on PATH has no torch):

    apt-get install -y python3-torch python3-numpy python3-pil python3-onnx
    cd examples/demo && /usr/bin/python3 generate.py

Writes datasets/ (four splits, SEMANTIC_PNG and COCO_PANOPTIC layouts in the same folders),
models/*.onnx and manifest.json, and prints the results table. Deterministic: fixed seeds and
one intra-op thread (float reduction order depends on the thread count). The runtime is printed
at the end and recorded in README.md.

Nothing here is tuned to make merging look good: the training recipe is fixed per model before
any merge is tried, and merge_check.py only reads the outputs.
"""
import copy
import json
import os
import shutil
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from PIL import Image

from toy_data import CLASSES, IGNORE, SIZE, THING_IDS, make_sample
from toy_eval import MEAN, POSTPROCESS, STD, PanopticQuality, gt_segments, mean_iou, normalise, postprocess, predict
from toy_models import NUM_CLASSES, SegModel, output_names

HERE = os.path.dirname(os.path.abspath(__file__))
COUNTS = {"train": 200, "val": 50}
BATCH = 16
LR = 2e-3
OPSET = 13

# Training recipes, fixed before any merge was tried. Epochs over the 200 source images.
RECIPES = {
    "source-only": dict(arch="tinyseg-mlp", strategy="source-only", epochs=100, seed=11),
    "augment": dict(arch="tinyseg-mlp", strategy="photometric-augment", epochs=100, seed=12),
    "selftrain": dict(arch="tinyseg-mlp", strategy="self-training", epochs=100, seed=13, checkpoint=("selftrain-ckpt", 60)),
    "fcn-head": dict(arch="tinyseg-fcn", strategy="self-training", epochs=100, seed=14),
    "panoptic": dict(arch="tinyseg-panoptic", strategy="source-only", epochs=150, seed=15),
}
SELFTRAIN_WARMUP = 30  # source-only epochs before the teacher is created and target batches start
PSEUDO_THRESHOLD = 0.968  # DACS: pseudo-label weight = fraction of pixels above this confidence
EMA_ALPHA = 0.99  # DACS/DAFormer teacher momentum
CENTER_SIGMA = 2.0  # Panoptic-DeepLab uses sigma 8 at 1/4 of ~1024 px; scaled to 64 px
CENTER_WEIGHT, OFFSET_WEIGHT = 200.0, 0.1


# ----------------------------------------------------------------------------------- data
def write_split(domain, split):
    root = os.path.join(HERE, "datasets", domain, split)
    for sub in ("images", "labels", "panoptic"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    imgs, sems, insts = [], [], []
    coco = {
        "info": {"description": f"layermerge demo, synthetic {domain} domain, {split} split (examples/demo/generate.py)"},
        "images": [], "annotations": [],
        "categories": [{"id": c["id"], "name": c["name"], "isthing": int(c["isThing"]), "supercategory": c["name"]} for c in CLASSES],
    }
    for i in range(COUNTS[split]):
        img, sem, inst = make_sample(domain, split, i)
        name = f"{i:04d}.png"
        Image.fromarray(img).save(os.path.join(root, "images", name), optimize=True)
        Image.fromarray(sem.astype(np.uint8), mode="L").save(os.path.join(root, "labels", name), optimize=True)
        ids = np.zeros(sem.shape, np.int64)
        segments = []
        for k, (_, (cls, m)) in enumerate(sorted(gt_segments(sem, inst).items(), key=lambda kv: (kv[1][0], kv[0][1]))):
            sid = k + 1
            ids[m] = sid
            ys, xs = np.nonzero(m)
            segments.append({"id": sid, "category_id": cls, "iscrowd": 0, "area": int(m.sum()),
                             "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]})
        rgb = np.stack([ids % 256, (ids // 256) % 256, ids // 65536], -1).astype(np.uint8)
        Image.fromarray(rgb, mode="RGB").save(os.path.join(root, "panoptic", name), optimize=True)
        coco["images"].append({"id": i, "file_name": name, "width": SIZE, "height": SIZE})
        coco["annotations"].append({"image_id": i, "file_name": name, "segments_info": segments})
        imgs.append(img)
        sems.append(sem)
        insts.append(inst)
    with open(os.path.join(root, "panoptic.json"), "w") as f:
        json.dump(coco, f, separators=(",", ":"))
    return {"images": np.stack(imgs), "labels": np.stack(sems), "instances": np.stack(insts)}


def panoptic_targets(sem, inst):
    """Center heatmap [1,H,W], offsets [2,H,W] (dy, dx to the instance's centre of mass), thing mask."""
    heat = np.zeros((1, SIZE, SIZE), np.float32)
    off = np.zeros((2, SIZE, SIZE), np.float32)
    thing = np.zeros((SIZE, SIZE), np.float32)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    for c in THING_IDS:
        for i in np.unique(inst[sem == c]):
            m = (sem == c) & (inst == i)
            cy, cx = yy[m].mean(), xx[m].mean()
            heat[0] = np.maximum(heat[0], np.exp(-((yy - round(cy)) ** 2 + (xx - round(cx)) ** 2) / (2 * CENTER_SIGMA ** 2)))
            off[0][m] = cy - yy[m]
            off[1][m] = cx - xx[m]
            thing[m] = 1
    return heat, off, thing


# ------------------------------------------------------------------------------- training
def photometric(x, gen):
    """Generic photometric distortion + sensor noise (mmseg PhotoMetricDistortion-like) on 0-255 RGB."""
    n = x.shape[0]

    def u(lo, hi, shape=(n, 1, 1, 1)):
        return lo + (hi - lo) * torch.rand(shape, generator=gen)

    def on(p):
        return (torch.rand((n, 1, 1, 1), generator=gen) < p).float()

    x = x * (1 + on(0.8) * (u(0.6, 1.4) - 1))
    grey = x.mean(dim=(1, 2, 3), keepdim=True)
    x = grey + (x - grey) * (1 + on(0.8) * (u(0.6, 1.4) - 1))
    lum = x.mean(dim=1, keepdim=True)
    x = lum + (x - lum) * (1 + on(0.8) * (u(0.4, 1.4) - 1))
    x = x * (1 + on(0.8) * (u(0.8, 1.2, (n, 3, 1, 1)) - 1))
    x = x + on(0.8) * u(0, 15) * torch.randn(x.shape, generator=gen)
    return x.clamp(0, 255)


def to_input(images_u8, gen=None, augment=False):
    x = torch.as_tensor(images_u8).permute(0, 3, 1, 2).float()
    if augment:
        x = photometric(x, gen)
    return (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def semantic_loss(logits, labels):
    if logits.shape[-2:] != labels.shape[-2:]:
        logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
    return F.cross_entropy(logits, labels, ignore_index=IGNORE)


@torch.no_grad()
def update_teacher(teacher, student):
    for t, p in zip(teacher.parameters(), student.parameters()):
        t.mul_(EMA_ALPHA).add_(p, alpha=1 - EMA_ALPHA)
    for t, b in zip(teacher.buffers(), student.buffers()):
        t.copy_(b)


@torch.no_grad()
def dacs_batch(teacher, src_imgs, src_labels, tgt_imgs, gen):
    """DACS (Tranheden et al., WACV 2021) ClassMix: paste half of the classes of a source image onto
    a target image; target pixels take the EMA teacher's pseudo-labels, weighted per image by the
    fraction of pixels whose confidence exceeds PSEUDO_THRESHOLD."""
    teacher.eval()
    logits = teacher(to_input(tgt_imgs.numpy()))
    logits = F.interpolate(logits, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    conf, pseudo = logits.softmax(1).max(1)
    weight = (conf > PSEUDO_THRESHOLD).float().mean(dim=(1, 2), keepdim=True).expand_as(conf).clone()
    masks = torch.zeros_like(src_labels, dtype=torch.bool)
    for k in range(len(src_labels)):
        present = [c for c in torch.unique(src_labels[k]).tolist() if c != IGNORE]
        pick = torch.randperm(len(present), generator=gen)[: (len(present) + 1) // 2]
        for c in pick.tolist():
            masks[k] |= src_labels[k] == present[c]
    mixed = torch.where(masks.unsqueeze(-1), src_imgs, tgt_imgs)
    labels = torch.where(masks, src_labels, pseudo)
    weight[masks] = 1.0
    return mixed, labels, weight


def train(name, recipe, data, log):
    torch.manual_seed(recipe["seed"])
    gen = torch.Generator().manual_seed(recipe["seed"])
    rng = np.random.default_rng(recipe["seed"])
    model = SegModel(recipe["arch"])  # shared initialisation: seeds inside SegModel, not recipe["seed"]
    model.train()
    src, tgt = data["source/train"], data["target/train"]
    steps_per_epoch = len(src["images"]) // BATCH
    total = recipe["epochs"] * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=total, pct_start=0.1, anneal_strategy="cos")
    strategy = recipe["strategy"]
    pan = recipe["arch"] == "tinyseg-panoptic"
    if pan:
        tg = [panoptic_targets(s, i) for s, i in zip(src["labels"], src["instances"])]
        heat_t = torch.as_tensor(np.stack([t[0] for t in tg]))
        off_t = torch.as_tensor(np.stack([t[1] for t in tg]))
        thing_t = torch.as_tensor(np.stack([t[2] for t in tg]))
    checkpoints = {}
    teacher = None
    for epoch in range(recipe["epochs"]):
        if strategy == "self-training" and epoch == SELFTRAIN_WARMUP:
            teacher = copy.deepcopy(model)
        order = rng.permutation(len(src["images"]))
        torder = rng.permutation(len(tgt["images"]))
        for s in range(steps_per_epoch):
            idx = order[s * BATCH:(s + 1) * BATCH]
            flip = torch.as_tensor(rng.random(BATCH) < 0.5)
            imgs = torch.as_tensor(src["images"][idx])
            labels = torch.as_tensor(src["labels"][idx])
            imgs = torch.where(flip.view(-1, 1, 1, 1), imgs.flip(2), imgs)
            labels = torch.where(flip.view(-1, 1, 1), labels.flip(2), labels)
            x = to_input(imgs.numpy(), gen, augment=strategy == "photometric-augment")
            if teacher is not None:
                tidx = torder[s * BATCH:(s + 1) * BATCH]
                tflip = torch.as_tensor(rng.random(BATCH) < 0.5)
                timgs = torch.as_tensor(tgt["images"][tidx])
                timgs = torch.where(tflip.view(-1, 1, 1, 1), timgs.flip(2), timgs)
                mixed, mlabels, mweight = dacs_batch(teacher, imgs, labels, timgs, gen)
                # one forward pass over both batches, so BatchNorm statistics see the target too
                x = torch.cat([x, to_input(mixed.numpy(), gen, augment=True)])
            out = model(x)
            if pan:
                sem, center, offset = out
                h = torch.where(flip.view(-1, 1, 1, 1), heat_t[idx].flip(3), heat_t[idx])
                o = torch.where(flip.view(-1, 1, 1, 1), off_t[idx].flip(3) * torch.tensor([1.0, -1.0]).view(1, 2, 1, 1), off_t[idx])
                t = torch.where(flip.view(-1, 1, 1), thing_t[idx].flip(2), thing_t[idx])
                loss = semantic_loss(sem, labels)
                loss = loss + CENTER_WEIGHT * F.mse_loss(center, h)
                loss = loss + OFFSET_WEIGHT * ((offset - o).abs().sum(1) * t).sum() / t.sum().clamp(min=1)
            else:
                loss = semantic_loss(out[:BATCH], labels)
                if teacher is not None:
                    mlogits = F.interpolate(out[BATCH:], size=(SIZE, SIZE), mode="bilinear", align_corners=False)
                    loss = loss + (F.cross_entropy(mlogits, mlabels, reduction="none") * mweight).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if teacher is not None:
                update_teacher(teacher, model)
        ck = recipe.get("checkpoint")
        if ck and epoch + 1 == ck[1]:
            checkpoints[ck[0]] = {k: v.clone() for k, v in model.state_dict().items()}
        if (epoch + 1) % 10 == 0:
            log(f"  {name}: epoch {epoch + 1}/{recipe['epochs']} loss {loss.item():.4f}")
    model.eval()
    return model, checkpoints


# ------------------------------------------------------------------------- evaluation/export
def evaluate(model, split, pan):
    sem, heads = predict(model, split["images"])
    miou, per_class = mean_iou(sem, split["labels"], NUM_CLASSES)
    res = {"mIoU": miou, "perClassIoU": per_class}
    if pan:
        pq = PanopticQuality(CLASSES)
        for k in range(len(sem)):
            pred = postprocess(heads[0][k], heads[1][k], heads[2][k], THING_IDS, POSTPROCESS)
            gt_sem, gt_inst = split["labels"][k], split["instances"][k]
            pq.add(gt_segments(gt_sem, gt_inst), gt_sem == IGNORE, pred, POSTPROCESS["labelDivisor"])
        res["panoptic"] = pq.result()
        res["PQ"] = res["panoptic"]["all"]["pq"]
    return res


def export(model, path):
    names = output_names(model.arch)
    axes = {n: {0: "N"} for n in ["input"] + names}
    torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), path, input_names=["input"], output_names=names,
                      opset_version=OPSET, do_constant_folding=False, keep_initializers_as_inputs=False,
                      training=torch.onnx.TrainingMode.PRESERVE, dynamic_axes=axes)
    g = onnx.load(path).graph
    init = {i.name for i in g.initializer}
    expected = {k for k, v in model.state_dict().items() if v.is_floating_point()}
    # The registry merges ONNX initializers by name; every PyTorch tensor must be there, unrenamed.
    assert init == expected, f"{path}: initializers differ from state_dict: {sorted(init ^ expected)[:8]}"


def inference_contract(arch):
    pan = arch == "tinyseg-panoptic"
    outputs = ([{"name": "semantic", "kind": "PANOPTIC_SEMANTIC"}, {"name": "center", "kind": "PANOPTIC_CENTER"},
                {"name": "offset", "kind": "PANOPTIC_OFFSET"}] if pan else [{"name": "logits", "kind": "SEMANTIC_LOGITS"}])
    return {"inputName": "input", "width": SIZE, "height": SIZE, "resize": {"mode": "FIXED"}, "channelOrder": "RGB",
            "mean": MEAN, "std": STD, "outputs": outputs, "postprocess": dict(POSTPROCESS)}


def main():
    t0 = time.time()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    lines = []

    def log(s):
        print(s, flush=True)
        lines.append(s)

    shutil.rmtree(os.path.join(HERE, "datasets"), ignore_errors=True)
    data = {}
    for domain in ("source", "target"):
        for split in ("train", "val"):
            data[f"{domain}/{split}"] = write_split(domain, split)
    log(f"data written in {time.time() - t0:.1f}s")

    models_dir = os.path.join(HERE, "models")
    shutil.rmtree(models_dir, ignore_errors=True)
    os.makedirs(models_dir)
    trained = {}
    for name, recipe in RECIPES.items():
        t1 = time.time()
        model, checkpoints = train(name, recipe, data, log)
        trained[name] = (model, recipe, recipe["epochs"])
        for ck_name, state in checkpoints.items():
            ck = SegModel(recipe["arch"])
            ck.load_state_dict(state)
            ck.eval()
            trained[ck_name] = (ck, recipe, recipe["checkpoint"][1])
        log(f"  {name}: trained in {time.time() - t1:.1f}s")

    order = ["source-only", "augment", "selftrain", "selftrain-ckpt", "fcn-head", "panoptic"]
    manifest_models = []
    log("")
    table = [f"{'model':<16}{'arch':<18}{'strategy':<21}{'epochs':>6}{'params':>9}  {'src-val mIoU':>12}{'tgt-val mIoU':>13}{'src PQ':>8}{'tgt PQ':>8}"]
    log(table[0])
    for name in order:
        model, recipe, epochs = trained[name]
        pan = recipe["arch"] == "tinyseg-panoptic"
        sv = evaluate(model, data["source/val"], pan)
        tv = evaluate(model, data["target/val"], pan)
        path = os.path.join(models_dir, f"{name}.onnx")
        export(model, path)
        params = sum(p.numel() for p in model.parameters())
        pqs = f"{100 * sv['PQ']:>8.1f}{100 * tv['PQ']:>8.1f}" if pan else f"{'':>8}{'':>8}"
        table.append(f"{name:<16}{recipe['arch']:<18}{recipe['strategy']:<21}{epochs:>6}{params:>9}  {100 * sv['mIoU']:>12.1f}{100 * tv['mIoU']:>13.1f}{pqs}")
        log(table[-1])
        entry = {
            "name": name, "version": "1", "file": f"models/{name}.onnx",
            "task": "PANOPTIC" if pan else "SEMANTIC", "architecture": recipe["arch"], "backbone": "tinyseg-backbone",
            "udaStrategy": recipe["strategy"],
            "sourceDataset": "synth-source-train" + ("-panoptic" if pan else ""),
            # the UDA task's target domain; only the self-training models have seen its (unlabelled) images
            "targetDataset": "synth-target-train" + ("-panoptic" if pan else ""),
            "tags": ["demo", recipe["arch"]],
            "inference": inference_contract(recipe["arch"]),
            "lineage": [{"parent": "selftrain", "relation": "CHECKPOINT_OF"}] if name == "selftrain-ckpt" else [],
            "training": {"epochs": epochs, "seed": recipe["seed"], "batch": BATCH, "lr": LR, "params": params,
                         "usedTargetImages": recipe["strategy"] == "self-training"},
            "measured": {"sourceVal": sv, "targetVal": tv},
        }
        manifest_models.append(entry)
        if sv["mIoU"] < 0.8:
            log(f"WARNING: {name} reaches only {100 * sv['mIoU']:.1f} mIoU on source val (< 80)")

    datasets = []
    for domain, dom_name in (("source", "SynthSource"), ("target", "SynthTarget")):
        for split in ("train", "val"):
            folder = f"datasets/{domain}/{split}"
            base = {"domain": dom_name, "split": split, "folder": folder, "ignoreIndex": IGNORE, "classes": CLASSES,
                    "images": COUNTS[split]}
            datasets.append({"name": f"synth-{domain}-{split}", "task": "SEMANTIC", "format": "SEMANTIC_PNG", **base})
            datasets.append({"name": f"synth-{domain}-{split}-panoptic", "task": "PANOPTIC", "format": "COCO_PANOPTIC", **base})
    manifest = {
        "description": "layermerge demo: synthetic source->target UDA task and six small trained models (examples/demo/generate.py)",
        "generatedWith": {"torch": torch.__version__, "onnx": onnx.__version__, "opset": OPSET, "seconds": round(time.time() - t0, 1)},
        "tasks": [{"key": "semantic", "name": "Semantic segmentation", "kind": "SEMANTIC", "primaryMetric": "MIOU"},
                  {"key": "panoptic", "name": "Panoptic segmentation", "kind": "PANOPTIC", "primaryMetric": "PQ"}],
        "backbones": [{"name": "tinyseg-backbone", "family": "tinyseg", "parameterPrefix": "backbone."}],
        "datasets": datasets,
        "models": manifest_models,
        "table": table,
    }
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    log(f"\ntotal {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
