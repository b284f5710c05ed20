"""Decoder stage 2: text-prompted segmentation of the base layer (contract: base.py).

Registry: registry.py (``none`` offline; ``clipseg``, the full profile's, goes in
clipseg.py). See docs/architecture.md.
"""
