"""Decoder stage 2: text-prompted segmentation of the base layer (contract: base.py).

Registry: registry.py (``none`` offline; ``clipseg``, the full profile's, in clipseg.py;
``patchmap``, the encoder-side ablation, in patchmap.py). See docs/architecture.md.
"""
