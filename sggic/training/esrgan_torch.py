"""Real-ESRGAN x4plus's shipped ncnn model run by torch: the teacher on a GPU.

The restorer (``sggic.restore.realesrgan``) runs the packaged ``.param``/``.bin`` with the
ncnn CPU runtime, ~2.5 s per 128x128 base crop on two idle cores. Training wants the
teacher on whole bases at every qp, which a GPU does in milliseconds. This module reads
the same two files (no other weights exist offline) and interprets the graph with torch:
the x4plus graph uses only Input, Convolution (3x3, pad 1, bias, optional leaky ReLU),
Split, Concat (channels), Eltwise (weighted sum), BinaryOp (add) and Interp (nearest 2x).
Anything else raises, so a different model file cannot be run wrongly.

ncnn's model file stores each Convolution as a 4-byte storage tag, the weights (fp16 for
this file: tag 0x01306B47; fp32: tag 0), then the bias as raw fp32. Used for training
only: torch is not imported by decoding.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

_FP16_TAG = 0x01306B47
_SUPPORTED = {"Input", "Convolution", "Split", "Concat", "Eltwise", "BinaryOp", "Interp"}


def _params(tokens: list[str]) -> dict[int, str]:
    out = {}
    for t in tokens:
        k, v = t.split("=", 1)
        out[int(k)] = v
    return out


def parse_param(text: str) -> list[tuple[str, str, list[str], list[str], dict[int, str]]]:
    """The layers of an ncnn .param text: (type, name, inputs, outputs, params)."""
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0] != ["7767517"]:
        raise ValueError("not an ncnn .param file (magic 7767517 missing)")
    layers = []
    for f in lines[2:]:
        kind, name, nin, nout = f[0], f[1], int(f[2]), int(f[3])
        ins, outs = f[4:4 + nin], f[4 + nin:4 + nin + nout]
        if kind not in _SUPPORTED:
            raise ValueError(f"ncnn layer type {kind} ({name}) is not supported")
        layers.append((kind, name, ins, outs, _params(f[4 + nin + nout:])))
    return layers


def read_convolutions(layers: list, data: bytes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (weight (out, in, k, k) float32, bias (out,) float32) read in file order."""
    pos, out = 0, {}
    for kind, name, _, _, p in layers:
        if kind != "Convolution":
            continue
        nout, k, size = int(p[0]), int(p.get(1, "1")), int(p[6])
        if p.get(5, "0") != "1":
            raise ValueError(f"{name}: convolution without bias is not supported")
        (tag,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if tag == _FP16_TAG:
            w = np.frombuffer(data, np.float16, size, pos).astype(np.float32)
            pos += (2 * size + 3) // 4 * 4
        elif tag == 0:
            w = np.frombuffer(data, np.float32, size, pos).copy()
            pos += 4 * size
        else:
            raise ValueError(f"{name}: unsupported ncnn weight storage tag {tag:#x}")
        b = np.frombuffer(data, np.float32, nout, pos).copy()
        pos += 4 * nout
        out[name] = (w.reshape(nout, size // (nout * k * k), k, k), b)
    if pos != len(data):
        raise ValueError(f"ncnn model file has {len(data) - pos} bytes left after the last convolution")
    return out


class NcnnGraph:
    """An ncnn graph as a torch module (inference only: call under ``torch.no_grad()``)."""

    def __init__(self, param: Path, weights: Path) -> None:
        import torch

        self.layers = parse_param(Path(param).read_text())
        convs = read_convolutions(self.layers, Path(weights).read_bytes())
        self.convs = {k: (torch.from_numpy(w), torch.from_numpy(b)) for k, (w, b) in convs.items()}
        self.input = next(outs[0] for kind, _, _, outs, _ in self.layers if kind == "Input")

    def to(self, device: Any, dtype: Any = None) -> "NcnnGraph":
        self.convs = {k: (w.to(device, dtype), b.to(device, dtype)) for k, (w, b) in self.convs.items()}
        return self

    def __call__(self, x: Any, output: str = "output") -> Any:
        """x: (N, 3, H, W) RGB in [0, 1] -> the ``output`` blob (the 4x image: (N, 3, 4H, 4W))."""
        import torch
        import torch.nn.functional as F

        blobs = {self.input: x}
        for kind, name, ins, outs, p in self.layers:
            if kind == "Input":
                continue
            if kind == "Split":
                v = blobs.pop(ins[0])
                blobs.update({o: v for o in outs})
                continue
            a = [blobs.pop(i) for i in ins]
            if kind == "Convolution":
                w, b = self.convs[name]
                y = F.conv2d(a[0], w, b, padding=int(p.get(4, "0")))
                act = int(p.get(9, "0"))
                if act == 2:
                    y = F.leaky_relu(y, float(p[-23310].split(",")[1]))
                elif act == 1:
                    y = F.relu(y)
                elif act:
                    raise ValueError(f"{name}: activation {act} not supported")
            elif kind == "Concat":
                y = torch.cat(a, dim=1)
            elif kind == "Eltwise":
                if p.get(0) != "1":
                    raise ValueError(f"{name}: only Eltwise SUM is supported")
                coeffs = [float(c) for c in p[-23301].split(",")[1:]] if -23301 in p else [1.0] * len(a)
                y = sum(c * t for c, t in zip(coeffs, a))
            elif kind == "BinaryOp":
                if p.get(0, "0") != "0":
                    raise ValueError(f"{name}: only BinaryOp add is supported")
                y = a[0] + a[1]
            else:  # Interp
                if p.get(0) != "1":
                    raise ValueError(f"{name}: only nearest Interp is supported")
                y = F.interpolate(a[0], scale_factor=(float(p[1]), float(p[2])), mode="nearest")
            blobs[outs[0]] = y
            if outs[0] == output:
                return y
        raise ValueError(f"blob {output!r} not produced")


def load_x4plus(model_dir: Path | None = None) -> NcnnGraph:
    """The packaged Real-ESRGAN x4plus files (``realesrgan.model_files``) as an :class:`NcnnGraph`."""
    from sggic.restore.realesrgan import model_files

    return NcnnGraph(*model_files(model_dir))


def teacher_x2(graph: NcnnGraph, rgb: np.ndarray, device: Any = "cpu") -> np.ndarray:
    """The 2x restorer's output for one (h, w, 3) uint8 base, as ``RealESRGANRestorer`` makes it
    for a base of at most one block: the 4x output rounded to uint8, LANCZOS down to 2x."""
    import torch

    h, w = rgb.shape[:2]
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div(255.0).to(device)
    with torch.no_grad():
        y = graph(x)[0].float().cpu().numpy()
    big = np.clip(np.rint(y.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)
    return np.asarray(Image.fromarray(big).resize((2 * w, 2 * h), Image.Resampling.LANCZOS)).copy()
