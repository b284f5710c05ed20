"""Decoder stages 4-5: 2x restoration and per-object refinement (contract: base.py).

Registry: registry.py (``bicubic``, ``realesrgan``, ``fitted`` offline; ``diffusion``, the
full profile's, goes in diffusion/). See docs/architecture.md.
"""
