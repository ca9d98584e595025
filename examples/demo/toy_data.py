"""Synthetic two-domain street scenes for the layermerge demo.

Both domains draw their *layout* from nearly the same distribution (a horizon, buildings, sky,
road, several cars and people, nearer objects lower and larger); they differ in *appearance*:

- source ("SynthSource"): flat saturated colours, no texture, no noise — a cheap game render.
- target ("SynthTarget"): a dusk look — warm colour cast, darker and lower-contrast, an orange
  sky gradient instead of a blue one, textured asphalt and facades with lit windows, sensor noise;
  the horizon also sits a little higher (a mild layout shift, as between GTA5 and Cityscapes).

Classes (ids are the model's output channels and the values in the label PNGs):
0 road (stuff), 1 sky (stuff), 2 car (thing), 3 person (thing), 4 building (stuff).
Instances whose visible area is under MIN_AREA pixels are marked ignore (255) in the semantic
labels and void (0) in the panoptic PNGs, as COCO leaves tiny fragments unlabelled.
"""
import numpy as np

SIZE = 64
IGNORE = 255
MIN_AREA = 8
CLASSES = [
    {"id": 0, "name": "road", "isThing": False},
    {"id": 1, "name": "sky", "isThing": False},
    {"id": 2, "name": "car", "isThing": True},
    {"id": 3, "name": "person", "isThing": True},
    {"id": 4, "name": "building", "isThing": False},
]
THING_IDS = (2, 3)
ROAD, SKY, CAR, PERSON, BUILDING = 0, 1, 2, 3, 4

CAR_COLOURS = np.array([[200, 30, 30], [30, 60, 200], [230, 200, 40], [235, 235, 235], [30, 30, 30], [40, 150, 60], [150, 150, 160]], np.float32)
SHIRT_COLOURS = np.array([[220, 60, 60], [60, 90, 220], [250, 250, 250], [40, 160, 90], [240, 150, 30], [120, 60, 160]], np.float32)
FACADE_COLOURS = np.array([[205, 185, 145], [170, 85, 60], [150, 150, 160], [225, 220, 205], [120, 110, 100]], np.float32)
SKIN = np.array([[230, 185, 150], [190, 140, 100], [120, 80, 55]], np.float32)


def _layout(rng, domain):
    """Semantic class map, instance map (0 = none) and a list of drawable parts."""
    H = W = SIZE
    horizon = int(rng.integers(20, 33)) if domain == "source" else int(rng.integers(14, 27))
    sem = np.full((H, W), ROAD, np.int64)
    sem[:horizon] = SKY
    inst = np.zeros((H, W), np.int64)
    parts = []  # (kind, y0, y1, x0, x1, colour index / extra)

    # Buildings: rectangles standing on the horizon.
    x = int(rng.integers(-8, 4))
    while x < W:
        w = int(rng.integers(8, 22))
        if rng.random() < 0.8:
            top = int(rng.integers(2, max(3, horizon - 4)))
            y0, y1, x0, x1 = top, horizon, max(0, x), min(W, x + w)
            sem[y0:y1, x0:x1] = BUILDING
            parts.append(("building", y0, y1, x0, x1, int(rng.integers(len(FACADE_COLOURS)))))
        x += w + int(rng.integers(0, 6))

    # Things, far to near so that nearer ones occlude farther ones.
    things = []
    for _ in range(int(rng.integers(2, 6))):
        things.append(("car", int(rng.integers(horizon + 4, H + 4))))
    for _ in range(int(rng.integers(1, 5))):
        things.append(("person", int(rng.integers(horizon + 2, H + 2))))
    things.sort(key=lambda t: t[1])
    next_id = 1
    for kind, bottom in things:
        depth = (bottom - horizon) / (H - horizon)  # 0 at the horizon, 1 at the image bottom
        if kind == "car":
            w = int(round(7 + 11 * depth + rng.integers(-1, 2)))
            h = int(round(w * rng.uniform(0.5, 0.65)))
            cx = int(rng.integers(-w // 3, W + w // 3))
            x0, x1 = cx - w // 2, cx - w // 2 + w
            y0, y1 = bottom - h, bottom
            cab = max(2, h // 2)
            m = np.zeros((H, W), bool)
            m[max(0, y0 + cab // 2):max(0, y1), max(0, x0):max(0, x1)] = True
            m[max(0, y0 - cab // 2):max(0, y0 + cab // 2), max(0, x0 + w // 5):max(0, x1 - w // 5)] = True
            parts.append(("car", y0, y1, x0, x1, int(rng.integers(len(CAR_COLOURS))), cab, next_id))
        else:
            h = int(round(8 + 8 * depth + rng.integers(-1, 2)))
            w = max(3, int(round(h * rng.uniform(0.3, 0.4))))
            cx = int(rng.integers(0, W))
            x0, x1 = cx - w // 2, cx - w // 2 + w
            y0, y1 = bottom - h, bottom
            m = np.zeros((H, W), bool)
            m[max(0, y0 + h // 4):max(0, y1), max(0, x0):max(0, x1)] = True
            hx0, hx1 = x0 + w // 4, x1 - w // 4
            m[max(0, y0):max(0, y0 + h // 4), max(0, hx0):max(0, hx1)] = True
            parts.append(("person", y0, y1, x0, x1, int(rng.integers(len(SHIRT_COLOURS))), int(rng.integers(len(SKIN))), next_id))
        sem[m] = CAR if kind == "car" else PERSON
        inst[m] = next_id
        next_id += 1

    # Tiny visible fragments are not labelled (ignore / void).
    for i in range(1, next_id):
        m = inst == i
        if 0 < m.sum() < MIN_AREA:
            sem[m] = IGNORE
            inst[m] = -1
    inst[inst < 0] = 0
    return sem, inst, horizon, parts


def _paint(rng, domain, sem, inst, horizon, parts):
    H = W = SIZE
    img = np.zeros((H, W, 3), np.float32)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    target = domain == "target"

    # Sky and road backgrounds.
    if not target:
        img[:] = np.array([rng.uniform(95, 135)] * 3, np.float32) + rng.uniform(-6, 6, 3)  # road
        sky = np.array([rng.uniform(110, 150), rng.uniform(170, 210), rng.uniform(225, 255)], np.float32)
        img[:horizon] = sky
    else:
        g = rng.uniform(70, 105)
        img[:] = g
        # asphalt: low-frequency blotches plus grain
        blot = _smooth_noise(rng, 8) * 18 + rng.normal(0, 7, (H, W))
        img += blot[..., None]
        top = np.array([rng.uniform(100, 140), rng.uniform(70, 100), rng.uniform(120, 160)], np.float32)
        bottom = np.array([rng.uniform(230, 255), rng.uniform(130, 170), rng.uniform(70, 100)], np.float32)
        t = (yy[:horizon] / max(1, horizon - 1))[..., None]
        img[:horizon] = top * (1 - t) + bottom * t
    # Lane marking (road class).
    lane_y = int(rng.integers(horizon + 3, H - 2)) if horizon + 3 < H - 2 else H - 2
    for x0 in range(int(rng.integers(0, 8)), W, 12):
        img[lane_y:lane_y + 1, x0:x0 + 6] = 225 if not target else 170

    for p in parts:
        kind = p[0]
        if kind == "building":
            _, y0, y1, x0, x1, ci = p
            c = FACADE_COLOURS[ci] + rng.uniform(-12, 12, 3)
            img[y0:y1, x0:x1] = c
            if target:
                img[y0:y1, x0:x1] += rng.normal(0, 6, (y1 - y0, x1 - x0, 1))
                lit = np.array([250, 210, 110], np.float32)
                for wy in range(y0 + 2, y1 - 1, 4):
                    for wx in range(x0 + 1, x1 - 1, 3):
                        img[wy:wy + 2, wx:wx + 1] = lit if rng.random() < 0.5 else c * 0.45
        else:
            ident = p[-1]
            m = inst == ident
            if not m.any():
                continue
            _, y0, y1, x0, x1 = p[:5]
            if kind == "car":
                ci, cab = p[5], p[6]
                body = CAR_COLOURS[ci] + rng.uniform(-15, 15, 3)
                layer = np.broadcast_to(body, (H, W, 3)).copy()
                glass = (yy < y0 + cab // 2) & (yy >= y0 - cab // 2 + 1)
                layer[glass] = [60, 70, 90] if not target else [40, 40, 55]
                wheels = yy >= y1 - 2
                layer[wheels & ((xx < x0 + 3) | (xx >= x1 - 3))] = [20, 20, 20]
                if target:
                    layer += _smooth_noise(rng, 4)[..., None] * 10
                    layer[(yy >= y1 - 4) & (yy < y1 - 2) & ((xx == x0) | (xx == x1 - 1))] = [255, 240, 180]
            else:
                si, ki = p[5], p[6]
                layer = np.broadcast_to(SHIRT_COLOURS[si] + rng.uniform(-15, 15, 3), (H, W, 3)).copy()
                h = y1 - y0
                layer[yy < y0 + h // 4] = SKIN[ki]
                layer[yy >= y0 + (h * 3) // 5] = [35, 40, 70]
            img[m] = layer[m]

    if target:
        img = img * np.array([1.0, 0.85, 0.72], np.float32) * 0.8 + 12  # dusk cast, lower contrast
        img += rng.normal(0, 9, img.shape)  # sensor noise
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _smooth_noise(rng, cell):
    """Value noise: a coarse random grid upsampled bilinearly to SIZE×SIZE, in [-1, 1]."""
    n = SIZE // cell + 2
    grid = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    coords = (np.arange(SIZE, dtype=np.float32) + 0.5) / cell
    i = np.floor(coords).astype(int)
    f = coords - i
    rows = grid[i] * (1 - f)[:, None] + grid[i + 1] * f[:, None]
    return rows[:, i] * (1 - f)[None, :] + rows[:, i + 1] * f[None, :]


def make_sample(domain, split, index):
    """One (image HxWx3 uint8, semantic HxW int64 with 255 ignore, instance HxW int64) triple."""
    seed = [0 if domain == "source" else 1, {"train": 0, "val": 1}[split], index, 2409_15813]
    rng = np.random.default_rng(seed)
    sem, inst, horizon, parts = _layout(rng, domain)
    img = _paint(rng, domain, sem, inst, horizon, parts)
    return img, sem, inst
