"""Tiny segmentation nets for the demo: one 4-stage conv backbone, three heads.

Parameter names are the registry's contract with these files: `backbone.*` is identical (names
and shapes) in every model, `decode_head.*` differs by head. The ONNX initializers keep these
names (export with do_constant_folding=False and TrainingMode.PRESERVE, so that BatchNorm is not
folded into the convolutions and renamed).

- "tinyseg-mlp": SegFormer-style all-MLP head — 1x1 lateral convs to 32 channels, upsample to
  1/2 resolution, concatenate, 1x1 fuse, 1x1 classifier. Logits at 1/2 resolution (32x32), as
  mmseg heads output below input resolution; the evaluator resizes them to the label size.
- "tinyseg-fcn": FCN-style head — 1x1 lateral ConvBN to 24 channels, two 3x3 ConvBN, classifier.
  Every head tensor differs in name or shape from the MLP head, so a cross-architecture merge
  shares only the backbone.
- "tinyseg-panoptic": Panoptic-DeepLab-style — the MLP head's semantic branch under the same names
  (so a semantic model can be merged into it, as in the paper's semantic-into-panoptic setting),
  plus center and offset branches on the fused features; all three outputs upsampled to input
  resolution (center heatmap [N,1,H,W], offsets [N,2,H,W] in input pixels, channel 0 = dy).
"""
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

NUM_CLASSES = 5
WIDTHS = (16, 32, 48, 64)
BACKBONE_SEED = 0
HEAD_SEEDS = {"tinyseg-mlp": 1, "tinyseg-fcn": 2, "tinyseg-panoptic": 1}


def conv_bn(cin, cout, stride=1, k=3):
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
        bn=nn.BatchNorm2d(cout),
        relu=nn.ReLU(inplace=True),
    ))


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        cin = 3
        for i, w in enumerate(WIDTHS):
            self.add_module(f"stage{i + 1}", nn.Sequential(conv_bn(cin, w, 2), conv_bn(w, w)))
            cin = w

    def forward(self, x):
        feats = []
        for i in range(len(WIDTHS)):
            x = getattr(self, f"stage{i + 1}")(x)
            feats.append(x)
        return feats


def _fuse_inputs(feats, lateral):
    # Scale factors (not target sizes) keep the ONNX output shapes static: stage i is 2^i smaller.
    outs = []
    for i, (f, lat) in enumerate(zip(feats, lateral)):
        y = lat(f)
        if i > 0:
            y = F.interpolate(y, scale_factor=2 ** i, mode="bilinear", align_corners=False)
        outs.append(y)
    return torch.cat(outs, dim=1)


class MLPHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.lateral = nn.ModuleList([nn.Conv2d(w, 32, 1) for w in WIDTHS])
        self.fuse = conv_bn(32 * len(WIDTHS), 32, k=1)
        self.cls = nn.Conv2d(32, NUM_CLASSES, 1)

    def fused(self, feats):
        return self.fuse(_fuse_inputs(feats, self.lateral))

    def forward(self, feats):
        return self.cls(self.fused(feats))


class FCNHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.lateral_convs = nn.ModuleList([conv_bn(w, 24, k=1) for w in WIDTHS])
        self.convs = nn.Sequential(conv_bn(24 * len(WIDTHS), 32), conv_bn(32, 32))
        self.conv_seg = nn.Conv2d(32, NUM_CLASSES, 1)

    def forward(self, feats):
        return self.conv_seg(self.convs(_fuse_inputs(feats, self.lateral_convs)))


class PanopticHead(MLPHead):
    def __init__(self):
        super().__init__()  # same construction order as MLPHead: identical semantic-branch init
        self.center_head = nn.Sequential(conv_bn(32, 32), nn.Conv2d(32, 1, 1))
        self.offset_head = nn.Sequential(conv_bn(32, 32), nn.Conv2d(32, 2, 1))

    def forward(self, feats):
        x = self.fused(feats)
        return self.cls(x), self.center_head(x), self.offset_head(x)


class SegModel(nn.Module):
    def __init__(self, arch):
        super().__init__()
        torch.manual_seed(BACKBONE_SEED)
        self.backbone = Backbone()
        torch.manual_seed(HEAD_SEEDS[arch])
        self.decode_head = {"tinyseg-mlp": MLPHead, "tinyseg-fcn": FCNHead, "tinyseg-panoptic": PanopticHead}[arch]()
        self.arch = arch
        self.panoptic = arch == "tinyseg-panoptic"

    def forward(self, x):
        out = self.decode_head(self.backbone(x))
        if not self.panoptic:
            return out
        return tuple(F.interpolate(o, scale_factor=2, mode="bilinear", align_corners=False) for o in out)


def output_names(arch):
    return ["semantic", "center", "offset"] if arch == "tinyseg-panoptic" else ["logits"]
