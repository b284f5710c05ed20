"""One set of GroupNorm statistics for every VAE tile.

SD's VAE normalises with GroupNorm, whose mean and variance are taken over the whole
input. Run tile by tile, each tile would normalise with its own statistics, and tiles
of a sky and of a forest come out with different brightness and contrast: the classic
seam of naive tiled VAEs. Here the statistics are measured once on a *proxy* pass (the
whole input shrunk by area averaging until it fits one tile) and then every GroupNorm
uses those same numbers for every tile, so all tiles are normalised alike; the blend in
:mod:`.tiles` then only has to hide the mid-block attention's limited view. An input
that fits one tile never takes this path, so it is decoded exactly.

The proxy is no larger than one tile with its context (so the proxy pass costs what a
tile costs): up to that size the statistics are exact; beyond it they are estimated at
reduced resolution, which mostly misjudges the low frequencies, and those are what the
colour fix (:mod:`.colorfix`) takes from the stage-1 image anyway.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator


@contextmanager
def shared_groupnorm_stats(module: Any, proxy_pass: Callable[[], Any]) -> Iterator[None]:
    """Inside the block every ``GroupNorm`` of ``module`` uses the per-group mean/variance
    that ``proxy_pass()`` produced (one call per GroupNorm per forward, as in SD's VAE)."""
    import torch

    norms = [m for m in module.modules() if isinstance(m, torch.nn.GroupNorm)]
    stats: dict[int, tuple[Any, Any]] = {}

    def record(mod: Any, args: tuple[Any, ...]) -> None:
        x = args[0].float()
        g = x.reshape(x.shape[0], mod.num_groups, -1)
        stats[id(mod)] = (g.mean(dim=(0, 2)), g.var(dim=(0, 2), unbiased=False))

    handles = [m.register_forward_pre_hook(record) for m in norms]
    try:
        proxy_pass()
    finally:
        for h in handles:
            h.remove()

    def frozen(mod: Any) -> Callable[[Any], Any]:
        mean, var = stats[id(mod)]

        def forward(x: Any) -> Any:
            n, c = x.shape[:2]
            g = x.float().reshape(n, mod.num_groups, -1)
            g = (g - mean[None, :, None]) * torch.rsqrt(var[None, :, None] + mod.eps)
            y = g.reshape(x.shape)
            if mod.affine:
                shape = (1, c) + (1,) * (x.dim() - 2)
                y = y * mod.weight.float().reshape(shape) + mod.bias.float().reshape(shape)
            return y.to(x.dtype)

        return forward

    patched = [m for m in norms if id(m) in stats]
    for m in patched:
        m.forward = frozen(m)
    try:
        yield
    finally:
        for m in patched:
            del m.forward
