#!/usr/bin/env python3
"""Writes canonical_events.json: golden vectors for bwv's canonical event bytes.

Independent of bwv: Python's json module (ensure_ascii=False, compact separators, the fields
object's keys sorted by their UTF-8 bytes) and hashlib. Run from this folder:
    python3 canonical_events.py
"""
import hashlib
import json

AT = "2026-11-21T10:00:00.000Z"
CASES = [
    ("plain ingest", 0, AT, "ingested", "9f2c41d07ab3e5c1", "bwv-ingest",
     {"master_sha256": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
      "size": 1048576}),
    ("no recording, integer extremes", 18446744073709551, "2026-12-31T23:59:59.999Z", "verified",
     None, "bwv-verify", {"max": 9223372036854775807, "min": -9223372036854775808, "zero": 0}),
    ("non-ASCII text", 3, AT, "flagged", "abcd", "Zoë Ødegård 王小明 🚓",
     {"reference": "CASE/2026/é-1", "ñ": "ü"}),
    ("control characters", 4, AT, "accessed", "abcd", "a\u0000b\u0001c\u001fd\u007fe",
     {"action": "tab\there\nnew line\rcr\bbs\fff", "quote": "say \"hi\" \\ back/slash"}),
    ("line and paragraph separators, bidi override", 5, AT, "hold_placed", "abcd",
     "x\u2028y\u2029z\u202ew", {"kind": "sar", "reference": "SAR-1"}),
    ("field keys in byte order", 6, AT, "deleted", "abcd", "bwv-retention",
     {"B": 1, "a": 2, "_": 3, "Z": 4, "é": 5, "e": 6}),
]

vectors = []
for name, seq, at, kind, recording, actor, fields in CASES:
    ordered = {k: fields[k] for k in sorted(fields, key=lambda k: k.encode())}
    event = {"v": 1, "seq": seq, "at": at, "kind": kind, "recording": recording,
             "actor": actor, "fields": ordered}
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    vectors.append({"name": name, "canonical_hex": data.hex(),
                    "leaf_hash": hashlib.sha256(b"\x00" + data).hexdigest()})

doc = {
    "description": "Golden vectors for bwv's canonical event bytes (src/custody/event.rs) and "
                   "their RFC 6962 leaf hashes, SHA-256(0x00 || bytes), made by "
                   "canonical_events.py without bwv. A serializer change that alters any of "
                   "these bytes would make every stored event look rewritten.",
    "vectors": vectors,
}
with open("canonical_events.json", "w", encoding="utf-8") as f:
    f.write(json.dumps(doc, indent=2) + "\n")
