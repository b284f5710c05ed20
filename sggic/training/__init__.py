"""Fitting the ``fitted`` restorer to our own base layer (data preparation + training loop).

Nothing here runs at decode time: the decoder needs only ``sggic.restore.fitted`` and the
shipped safetensors file. ``scripts/train_restorer.py`` is the reproducible entry point.
"""
