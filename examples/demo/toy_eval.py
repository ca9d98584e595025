"""Evaluation in PyTorch/numpy with the registry's conventions (docs/CONVENTIONS.md, Metrics).

These numbers are a cross-check for the registry's own evaluation of the exported ONNX files:
- inputs: RGB, (pixel - MEAN) / STD on the 0-255 scale, no resize (images are 64x64);
- semantic logits are resized bilinearly with half-pixel centres (align_corners=False) to label
  resolution before the argmax;
- mIoU from one confusion matrix over the split, ignore 255, mean over classes with a non-empty
  union;
- Panoptic-DeepLab post-processing as detectron2's reference (and src/core/eval/postprocess),
  PQ as cocodataset/panopticapi pq_compute (match at IoU > 0.5, void pixels removed from the
  union, unmatched predictions mostly on void are not false positives; no crowd regions here).
"""
import numpy as np
import torch
import torch.nn.functional as F

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
POSTPROCESS = {
    "centerThreshold": 0.1,
    "nmsKernel": 7,
    "topK": 200,
    "stuffArea": 0,
    "thingArea": 0,
    "labelDivisor": 1000,
    "offsetOrder": "YX",
    "centerActivation": "NONE",
}


def normalise(images_u8):
    """[N,H,W,3] uint8 -> [N,3,H,W] float32 network input."""
    x = torch.as_tensor(images_u8).permute(0, 3, 1, 2).float()
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def predict(model, images_u8, batch=50):
    """Semantic class maps at label resolution (and the raw panoptic heads for panoptic models)."""
    model.eval()
    sems, heads = [], []
    for i in range(0, len(images_u8), batch):
        out = model(normalise(images_u8[i:i + batch]))
        logits = out[0] if isinstance(out, tuple) else out
        size = images_u8.shape[1:3]
        if logits.shape[-2:] != size:
            logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
        sems.append(logits.argmax(1).numpy())
        if isinstance(out, tuple):
            heads.append(tuple(o.numpy() for o in out))
    sem = np.concatenate(sems)
    if not heads:
        return sem, None
    return sem, tuple(np.concatenate([h[k] for h in heads]) for k in range(3))


def mean_iou(pred, label, num_classes, ignore=255):
    valid = label != ignore
    cm = np.bincount(label[valid].astype(np.int64) * num_classes + pred[valid], minlength=num_classes ** 2).reshape(num_classes, num_classes)
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - tp
    iou = np.where(union > 0, tp / np.maximum(union, 1), np.nan)
    return float(np.nanmean(iou)), [None if np.isnan(v) else float(v) for v in iou]


def postprocess(sem_logits, center, offsets, things, o=POSTPROCESS):
    """detectron2 Panoptic-DeepLab get_panoptic_segmentation for one image -> class*div+inst, -1 void."""
    sem = torch.as_tensor(sem_logits).argmax(0)
    h, w = sem.shape
    heat = torch.as_tensor(center).view(1, 1, h, w)
    if o["centerActivation"] == "SIGMOID":
        heat = heat.sigmoid()
    heat = F.threshold(heat, o["centerThreshold"], -1.0)
    k = o["nmsKernel"]
    pooled = F.max_pool2d(heat, kernel_size=k, stride=1, padding=(k - 1) // 2)
    heat = torch.where(heat == pooled, heat, torch.full_like(heat, -1.0)).view(h, w)
    kth = torch.topk(heat.flatten(), min(o["topK"], h * w)).values[-1].clamp(min=0)
    centers = torch.nonzero(heat > kth).float()
    off = torch.as_tensor(offsets)
    if o["offsetOrder"] == "XY":
        off = off.flip(0)
    is_thing = torch.zeros_like(sem, dtype=torch.bool)
    for t in things:
        is_thing |= sem == t
    instance = torch.zeros_like(sem)
    if centers.shape[0] > 0:
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
        target = torch.stack([ys + off[0], xs + off[1]], dim=-1).view(-1, 1, 2)
        dist = ((target - centers.view(1, -1, 2)) ** 2).sum(-1)
        instance = (dist.argmin(dim=1) + 1).view(h, w)
        instance[~is_thing] = 0
    div = o["labelDivisor"]
    pan = torch.full_like(sem, -1)
    per_class = {}
    for i in torch.unique(instance).tolist():
        if i == 0:
            continue
        mask = instance == i
        if int(mask.sum()) < o["thingArea"]:
            continue
        cls = int(torch.mode(sem[mask]).values)
        per_class[cls] = per_class.get(cls, 0) + 1
        pan[mask] = cls * div + per_class[cls]
    for cls in torch.unique(sem).tolist():
        if cls in things:
            continue
        mask = sem == cls
        if int(mask.sum()) >= o["stuffArea"]:
            pan[mask] = cls * div
    return pan.numpy()


def gt_segments(sem, inst):
    """Ground-truth segments {key: (class, mask)} of one image: one per stuff class, one per instance."""
    segs = {}
    for c in np.unique(sem):
        if c == 255:
            continue
        m = sem == c
        if c in (2, 3):
            for i in np.unique(inst[m]):
                segs[("t", int(i))] = (int(c), m & (inst == i))
        else:
            segs[("s", int(c))] = (int(c), m)
    return segs


class PanopticQuality:
    def __init__(self, classes):
        self.classes = classes
        self.stats = {c["id"]: [0, 0, 0, 0.0] for c in classes}  # tp, fp, fn, iou sum

    def add(self, gt, gt_void, pred_map, div=1000):
        """gt: {key: (class, mask)}; gt_void: bool mask; pred_map: class*div+inst, -1 void."""
        pred = {}
        for v in np.unique(pred_map):
            if v < 0:
                continue
            pred[int(v)] = (int(v) // div, pred_map == v)
        matched_gt, matched_pred = set(), set()
        for gk, (gc, gm) in gt.items():
            for pk, (pc, pm) in pred.items():
                if pc != gc or pk in matched_pred:
                    continue
                inter = np.logical_and(gm, pm).sum()
                if inter == 0:
                    continue
                union = gm.sum() + pm.sum() - inter - np.logical_and(pm, gt_void).sum()
                iou = inter / union
                if iou > 0.5:
                    s = self.stats[gc]
                    s[0] += 1
                    s[3] += iou
                    matched_gt.add(gk)
                    matched_pred.add(pk)
                    break
        for gk, (gc, gm) in gt.items():
            if gk not in matched_gt:
                self.stats[gc][2] += 1
        for pk, (pc, pm) in pred.items():
            if pk in matched_pred:
                continue
            if np.logical_and(pm, gt_void).sum() / pm.sum() > 0.5:
                continue
            self.stats[pc][1] += 1

    def result(self):
        out = {}
        for name, sel in (("all", None), ("things", True), ("stuff", False)):
            pq = sq = rq = 0.0
            n = 0
            for c in self.classes:
                if sel is not None and c["isThing"] != sel:
                    continue
                tp, fp, fn, iou = self.stats[c["id"]]
                if tp + fp + fn == 0:
                    continue
                n += 1
                pq += iou / (tp + 0.5 * fp + 0.5 * fn)
                sq += iou / tp if tp else 0.0
                rq += tp / (tp + 0.5 * fp + 0.5 * fn)
            out[name] = {"pq": pq / n if n else 0.0, "sq": sq / n if n else 0.0, "rq": rq / n if n else 0.0, "n": n}
        return out
