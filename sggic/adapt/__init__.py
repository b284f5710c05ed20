"""Decoder stage 3: content-adaptive restorer settings (contract: base.py).

Registry: registry.py (``fixed`` offline; ``dyndiff``, the full profile's, goes in
dyndiff.py). See docs/architecture.md.
"""
