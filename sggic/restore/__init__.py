"""Decoder stages 4-5: 2x restoration and per-object refinement (contract: base.py).

Registry: registry.py (``bicubic``, ``realesrgan``, ``fitted`` offline; ``diffbir``, the
full profile's, goes in diffbir.py). See docs/architecture.md.
"""
