"""Decoder stage 3: content-adaptive restorer settings (contract: base.py).

Registry: registry.py (``fixed``: the "w/o CAD" ablation; ``adaptive``: the offline
profile's, adaptive.py; ``dyndiff``: the full profile's, dyndiff.py). Features:
features.py; the MLP and its weights file: mlp.py; labels and training: labels.py,
train.py (``sggic train-adapt``); the stand-in knob restorer: standin.py. See
docs/adapt.md and docs/architecture.md.
"""
