import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(tmp_path_factory):
    """The tests' on-disk caches (the text model's, sggic.semantics._modelcache) go to a
    temporary folder, never the user's ~/.cache; subprocesses inherit it."""
    import os

    old = os.environ.get("SGGIC_CACHE_DIR")
    os.environ["SGGIC_CACHE_DIR"] = str(tmp_path_factory.mktemp("sggic-cache"))
    yield
    if old is None:
        os.environ.pop("SGGIC_CACHE_DIR", None)
    else:
        os.environ["SGGIC_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def astronaut():
    """512x512 RGB photo shipped by scikit-image (no network, no apt)."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def astronaut_png(tmp_path_factory, astronaut):
    from PIL import Image

    p = tmp_path_factory.mktemp("img") / "astronaut.png"
    Image.fromarray(astronaut).save(p)
    return p


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory):
    """A factory: ``photo_folder("astronaut", "coffee")`` is a new folder holding those
    scikit-image photos as PNGs (``astronaut.png``, ``coffee.png``)."""

    def make(*names: str):
        from PIL import Image
        from skimage import data

        d = tmp_path_factory.mktemp("photos")
        for name in names:
            Image.fromarray(getattr(data, name)()).save(d / f"{name}.png")
        return d

    return make


@pytest.fixture(scope="session")
def semantics_json(tmp_path_factory):
    import json

    p = tmp_path_factory.mktemp("sem") / "sem.json"
    p.write_text(json.dumps({
        "objects": [
            {"name": "astronaut", "detail": "smiling woman in a white spacesuit"},
            {"name": "flag", "detail": "american flag on the left shoulder"},
            {"name": "helmet", "detail": "silver space helmet held at her side"},
        ],
        "description": "Official portrait of an astronaut in a white spacesuit, smiling, "
                       "with a flag patch and a model spacecraft behind her.",
    }))
    return p


@pytest.fixture(scope="session")
def encoded_003(tmp_path_factory, astronaut_png, semantics_json):
    """One 0.03 bpp file shared by the decode tests (encoding is the slow part)."""
    from sggic.cli import main

    out = tmp_path_factory.mktemp("enc") / "a.sgc"
    assert main([ "encode", str(astronaut_png), "-o", str(out), "--bpp", "0.03",
                  "--semantics", str(semantics_json), "--restorer", "bicubic", "-q"]) == 0
    return out


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Tiny random models of every full-profile component (CLIPSeg, CLIP, Cheng2020 levels,
    the diffusion restorer's SD + ControlNets) and their models TOML with a [diffusion] table.

    Skipped when the full profile's packages are not installed; never touches the network.
    """
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"
    for module in ("transformers", "compressai", "torch", "safetensors", "diffusers"):
        pytest.importorskip(module)
    from sggic.cli import main

    root = tmp_path_factory.mktemp("tiny-models") / "models"
    assert main(["models", "make-tiny", str(root)]) == 0
    return root / "models.toml"
