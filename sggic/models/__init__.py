"""The full profile's models: the registry (one TOML), loading, tiny models, fine-tuning.

``registry`` reads the TOML (no heavy imports); ``hub`` loads Hugging Face components
(local folder, then hub cache, then the hub if allowed); ``tiny`` writes tiny random
models of every component; ``check`` reports what loads; ``finetune`` trains Cheng2020.
See docs/full-profile.md.
"""

from .registry import COMPONENTS, Component, Level, Registry, default_registry, load_registry

__all__ = ["COMPONENTS", "Component", "Level", "Registry", "default_registry", "load_registry"]
