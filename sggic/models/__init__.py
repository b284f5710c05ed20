"""The full profile's model registry (filled by the full-profile work; empty offline).

What belongs here: reading the model registry TOML that ``RunConfig.models`` names
(which weights file, its sha256 and its ``weights_version`` for each component of the
full profile: Cheng2020, CLIPSeg, the DynDiff MLPs, DiffBIR, the VLM client), and
loading those weights as safetensors (or ``torch.load(weights_only=True)``) on the
device ``RunConfig.device`` names. Nothing is downloaded: a missing or mismatching file
is a one-line :class:`sggic.errors.MissingWeights`.

The components themselves live with their stage (``sggic/segment/``, ``sggic/adapt/``,
``sggic/restore/``, ``sggic/codecs/``, ``sggic/semantics/``) and are registered there;
``sggic/profiles.py`` pins which of them make up each profile. See docs/architecture.md.
"""
