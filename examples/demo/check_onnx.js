#!/usr/bin/env node
// Runs every demo ONNX file in onnxruntime-node (the registry's runtime) over both validation
// splits and compares mIoU with the PyTorch numbers generate.py stored in manifest.json. A
// mismatch means the export changed the network (folded/renamed tensors, a different resize).
// Independent of src/: decoding with sharp, preprocessing, the half-pixel bilinear resize
// (PyTorch align_corners=False) and the confusion matrix are written out here.
//   node examples/demo/check_onnx.js
"use strict";
const path = require("path");
const fs = require("fs");
const ort = require("onnxruntime-node");
const sharp = require("sharp");

const HERE = __dirname;
const manifest = JSON.parse(fs.readFileSync(path.join(HERE, "manifest.json"), "utf8"));

async function readSplit(folder) {
  const root = path.join(HERE, folder);
  const names = fs.readdirSync(path.join(root, "images")).sort();
  const out = [];
  for (const n of names) {
    const img = await sharp(path.join(root, "images", n)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const lab = await sharp(path.join(root, "labels", n)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    if (lab.info.channels !== 1) throw new Error(`${folder}/labels/${n}: expected one channel`);
    out.push({ name: n, w: img.info.width, h: img.info.height, rgb: img.data, label: lab.data });
  }
  return out;
}

// One source coordinate per output coordinate: half-pixel centres, clamped (PyTorch bilinear).
function taps(outSize, inSize) {
  const scale = inSize / outSize;
  const t = [];
  for (let o = 0; o < outSize; o++) {
    const src = Math.max((o + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    t.push([i0, i1, src - i0]);
  }
  return t;
}

function argmaxAtLabelSize(logits, C, h, w, H, W) {
  const ty = taps(H, h);
  const tx = taps(W, w);
  const pred = new Uint8Array(H * W);
  for (let y = 0; y < H; y++) {
    const [y0, y1, fy] = ty[y];
    for (let x = 0; x < W; x++) {
      const [x0, x1, fx] = tx[x];
      let best = -Infinity;
      for (let c = 0; c < C; c++) {
        const p = c * h * w;
        const v = (1 - fy) * ((1 - fx) * logits[p + y0 * w + x0] + fx * logits[p + y0 * w + x1]) + fy * ((1 - fx) * logits[p + y1 * w + x0] + fx * logits[p + y1 * w + x1]);
        if (v > best) {
          best = v;
          pred[y * W + x] = c;
        }
      }
    }
  }
  return pred;
}

async function meanIoU(entry, samples) {
  const inf = entry.inference;
  const session = await ort.InferenceSession.create(path.join(HERE, entry.file), { intraOpNumThreads: 1 });
  const semantic = inf.outputs.find((o) => o.kind === "SEMANTIC_LOGITS" || o.kind === "PANOPTIC_SEMANTIC").name;
  const C = 5;
  const cm = new Float64Array(C * C);
  for (const s of samples) {
    const n = s.w * s.h;
    const x = new Float32Array(3 * n);
    for (let c = 0; c < 3; c++) for (let i = 0; i < n; i++) x[c * n + i] = (s.rgb[i * 3 + c] - inf.mean[c]) / inf.std[c];
    const out = await session.run({ [inf.inputName]: new ort.Tensor("float32", x, [1, 3, s.h, s.w]) });
    const t = out[semantic];
    const [, ch, h, w] = t.dims;
    const pred = argmaxAtLabelSize(t.data, ch, h, w, s.h, s.w);
    for (let i = 0; i < n; i++) if (s.label[i] !== 255) cm[s.label[i] * C + pred[i]]++;
  }
  let sum = 0;
  let k = 0;
  for (let c = 0; c < C; c++) {
    let row = 0;
    let col = 0;
    for (let j = 0; j < C; j++) {
      row += cm[c * C + j];
      col += cm[j * C + c];
    }
    const union = row + col - cm[c * C + c];
    if (union > 0) {
      sum += cm[c * C + c] / union;
      k++;
    }
  }
  return sum / k;
}

(async () => {
  const splits = { sourceVal: await readSplit("datasets/source/val"), targetVal: await readSplit("datasets/target/val") };
  let worst = 0;
  for (const entry of manifest.models) {
    const row = [entry.name.padEnd(16)];
    for (const key of ["sourceVal", "targetVal"]) {
      const m = await meanIoU(entry, splits[key]);
      const ref = entry.measured[key].mIoU;
      worst = Math.max(worst, Math.abs(m - ref));
      row.push(`${key} ort ${(100 * m).toFixed(2)} torch ${(100 * ref).toFixed(2)}`);
    }
    console.log(row.join("   "));
  }
  console.log(`largest |ort - torch| mIoU difference: ${(100 * worst).toFixed(3)} points`);
  if (worst > 0.001) process.exit(1);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
