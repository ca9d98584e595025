#!/usr/bin/env python3
"""Golden hashes for structureHash.test.ts, computed from the documented encoding with Python's
json and hashlib (independently of the TypeScript code): one JSON array per tensor, compact,
one per line, sorted by (layerIndex, name), after a version line and L.

Run: python3 structure_hash_golden.py
"""
import hashlib
import json


def enc(value):
    return json.dumps(value, separators=(",", ":"))


# (name, shape, dtype, mergeable, layerIndex, group), already in (layerIndex, name) order.
rows = [
    ["backbone.conv.bias", [8], "F32", True, 0, "backbone"],
    ["backbone.conv.weight", [8, 3, 3, 3], "F32", True, 0, "backbone"],
    ["head.w", [2], "F16", True, 1, "head"],
]
structure = "layermerge.structure.v1\nL=2\n" + "".join(enc(r) + "\n" for r in rows)
print("structure", hashlib.sha256(structure.encode()).hexdigest())
group = 'layermerge.group.v1\n"backbone"\n' + "".join(enc(r[:4]) + "\n" for r in rows[:2])
print("backbone group", hashlib.sha256(group.encode()).hexdigest())
