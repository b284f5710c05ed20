"""The FiLM-conditioned residual trunk that the fitted and generative restorers share.

Both networks run at the base resolution: a head convolution, ``blocks`` residual blocks
whose first convolution is scaled and shifted per channel by a small MLP of the
conditioning input (FiLM), a fuse convolution with a skip from the head, and a tail that
predicts 12 channels (the 2x pixel-shuffled residual). They differ only in what they
condition on and in how the residual meets the bicubic upsample, which stays in their
own modules. Module creation order (and so the seeded initialisation and the weights'
key names) is the one both networks had before this module existed.
"""

from __future__ import annotations

from typing import Any


def film_trunk(channels: int, blocks: int, cond_hidden: int, cond_in: int, slope: float) -> Any:
    """A torch ``nn.Module`` whose ``residual(x, cond)`` gives the tail's 12 channels."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class FiLMBlock(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1)

        def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
            h = self.conv1(x) * (1 + gamma) + beta
            return x + self.conv2(F.leaky_relu(h, slope))

    class FiLMTrunk(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.channels, self.nblocks, self.cond_in = channels, blocks, cond_in
            self.head = nn.Conv2d(3, channels, 3, padding=1)
            self.blocks = nn.ModuleList(FiLMBlock(channels) for _ in range(blocks))
            self.fuse = nn.Conv2d(channels, channels, 3, padding=1)
            self.tail = nn.Conv2d(channels, 12, 3, padding=1)
            self.cond = nn.Sequential(nn.Linear(cond_in, cond_hidden), nn.SiLU(),
                                      nn.Linear(cond_hidden, 2 * channels * blocks))
            nn.init.zeros_(self.cond[2].weight)
            nn.init.zeros_(self.cond[2].bias)
            nn.init.zeros_(self.tail.weight)  # start as exact bicubic
            nn.init.zeros_(self.tail.bias)

        def residual(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
            film = self.cond(cond.reshape(-1, self.cond_in)).reshape(-1, self.nblocks, 2, self.channels, 1, 1)
            f = self.head(x)
            r = f
            for i, blk in enumerate(self.blocks):
                r = blk(r, film[:, i, 0], film[:, i, 1])
            return self.tail(self.fuse(r) + f)

    return FiLMTrunk
