"""The generative restorer's network as an ncnn graph, written in memory from numpy weights.

ncnn's text format (.param) lists layers as ``type name n_in n_out inputs outputs k=v``;
the weights (.bin) are, per Convolution, a 4-byte tag (0 = raw float32), the weights in
(out, in, kh, kw) order, then the bias. Both are built here deterministically from the
folded (weight, bias) pairs (``generative.folded_convs``) and handed to ncnn with
``load_param_mem``/``load_model_mem``: nothing is written to disk, nothing downloaded.

Graph (blob names in brackets), matching ``generative.build_net``'s forward:
  data -> Split [d0, d1]
  d1 -> Padding (replicate 2; ids 0-3 top, bottom, left, right, 4 type) -> Convolution 5x5 3->12, fixed bicubic phases [up]
  d0 -> head conv [f] -> Split [f0, f1]
  per block i: x -> Split [xa, xb]; xa -> conv1 (+FiLM folded) + leaky ReLU 0.1 -> conv2 [r];
               xa + r -> next x
  fuse(x) + f1 -> tail conv [t]; t + up -> output (12 channels, before the pixel shuffle)
Every blob with two consumers goes through a Split (ncnn consumes each blob once).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LEAKY = "9=2 -23310=1,1.000000e-01"  # fused activation: leaky ReLU, slope 0.1


def graph_param(convs: dict[str, tuple[np.ndarray, np.ndarray]], blocks: int) -> tuple[str, list[str]]:
    """The .param text and the order in which convolutions' weights appear in the .bin."""
    layers: list[str] = ["Input data 0 1 data", "Split sd 1 2 data d0 d1",
                         "Padding pad 1 1 d1 dp 0=2 1=2 2=2 3=2 4=1",
                         "Convolution bicubic 1 1 dp up 0=12 1=5 5=0 6=900"]
    order = ["bicubic"]

    def conv(name: str, src: str, dst: str, act: bool = False) -> None:
        w, _ = convs[name]
        cout, cin, k, _k = w.shape
        layers.append(f"Convolution {name} 1 1 {src} {dst} 0={cout} 1={k} 4={k // 2} 5=1 6={cout * cin * k * k}"
                      + (" " + LEAKY if act else ""))
        order.append(name)

    conv("head", "d0", "f")
    layers.append("Split sf 1 2 f f0 f1")
    cur = "f0"
    for i in range(blocks):
        layers.append(f"Split s{i} 1 2 {cur} x{i}a x{i}b")
        conv(f"b{i}c1", f"x{i}a", f"h{i}", act=True)
        conv(f"b{i}c2", f"h{i}", f"r{i}")
        layers.append(f"BinaryOp add{i} 2 1 x{i}b r{i} y{i} 0=0")
        cur = f"y{i}"
    conv("fuse", cur, "fu")
    layers.append("BinaryOp addf 2 1 fu f1 g 0=0")
    conv("tail", "g", "t")
    layers.append("BinaryOp addo 2 1 t up output 0=0")
    blobs: set[str] = set()
    for line in layers:
        tok = line.split()
        n_in, n_out = int(tok[2]), int(tok[3])
        blobs.update(tok[4:4 + n_in + n_out])
    return f"7767517\n{len(layers)} {len(blobs)}\n" + "\n".join(layers) + "\n", order


def graph_bin(convs: dict[str, tuple[np.ndarray, np.ndarray]], order: list[str], bicubic: np.ndarray) -> bytes:
    tag = np.zeros(1, np.uint32).tobytes()
    parts = [tag, np.ascontiguousarray(bicubic, np.float32).tobytes()]  # no bias (5=0)
    for name in order[1:]:
        w, b = convs[name]
        parts += [tag, np.ascontiguousarray(w, np.float32).tobytes(), np.ascontiguousarray(b, np.float32).tobytes()]
    return b"".join(parts)


class NcnnNet:
    """An ncnn.Net plus the bytes it was loaded from (ncnn may keep pointers into them)."""

    def __init__(self, net: Any, param: str, weights: bytes) -> None:
        self.net, self.param, self.weights = net, param, weights


def build_ncnn_net(convs: dict[str, tuple[np.ndarray, np.ndarray]], blocks: int, bicubic: np.ndarray,
                   threads: int) -> NcnnNet:
    from sggic.errors import BackendUnavailable
    from sggic.restore.generative import _import_ncnn

    ncnn = _import_ncnn()
    param, order = graph_param(convs, blocks)
    weights = graph_bin(convs, order, bicubic)
    net = ncnn.Net()
    opt = net.opt
    opt.use_vulkan_compute = False
    opt.num_threads = int(threads)
    opt.lightmode = True
    opt.use_fp16_storage = False
    opt.use_fp16_packed = False
    opt.use_fp16_arithmetic = False
    opt.use_bf16_storage = False
    if net.load_param_mem(param) != 0:
        raise BackendUnavailable("ncnn rejected the generative restorer's graph")
    net.load_model_mem(weights)  # returns nothing in the Python binding; checked by running
    return NcnnNet(net, param, weights)


def run_ncnn(nn: NcnnNet, rgb: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 -> (12, h, w) float32 (the pixel-shuffle input)."""
    import ncnn

    from sggic.errors import BackendUnavailable

    h, w = rgb.shape[:2]
    # ncnn.Mat(array) wraps the array's memory: keep ``chw`` alive until extraction ends
    chw = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / np.float32(255.0)
    with nn.net.create_extractor() as ex:
        ex.input("data", ncnn.Mat(chw))
        ret, out = ex.extract("output")
        y = np.array(out)
    del chw
    if ret != 0 or y.shape != (12, h, w):
        raise BackendUnavailable(f"ncnn failed to run the generative restorer (error {ret}, shape {y.shape})")
    return y
