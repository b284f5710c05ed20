"""The full profile end to end on tiny random models: CLI encode (VLM semantics from a
loopback server, Cheng2020 base) and decode (CLIPSeg masks, diffusion restorer with
per-object refinement), the patch-map ablation, missing or mismatched weights.

Offline: the models come from ``sggic models make-tiny`` (the session fixture
``tiny_models``), HF_HUB_OFFLINE=1, the only server is ours on 127.0.0.1. The tiny
TOML's ``[diffusion]`` table runs 2 sampler steps at no upscaling, so a decode takes
seconds. The outputs are noise: these tests check plumbing, never quality.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.full
for _module in ("transformers", "compressai", "torch", "safetensors", "diffusers", "openai"):
    pytest.importorskip(_module)

from sggic import container  # noqa: E402
from sggic.cli import main  # noqa: E402
from sggic.config import RunConfig  # noqa: E402
from sggic.errors import MissingWeights  # noqa: E402
from sggic.pipeline import decode_detailed, encode_detailed  # noqa: E402
from sggic.segment.base import Segmenter  # noqa: E402
from sggic.semantics.schema import Semantics  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEMANTICS = {"objects": [{"name": "astronaut", "detail": "smiling woman in a white spacesuit"},
                         {"name": "flag", "detail": "american flag patch"},
                         {"name": "helmet", "detail": "silver helmet"}],
             "description": "Portrait of a smiling astronaut in a white spacesuit."}


class _FakeVLM:
    """An OpenAI-compatible chat-completions server on 127.0.0.1 that always answers SEMANTICS."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.requests.append(body)
                reply = {"id": "c1", "object": "chat.completion", "created": 0, "model": "test-vlm",
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": json.dumps(SEMANTICS)}}],
                         "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def vlm():
    keep = {k: os.environ.get(k) for k in ("SGGIC_VLM_BASE_URL", "SGGIC_VLM_MODEL", "SGGIC_VLM_API_KEY",
                                           "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy",
                                           "https_proxy", "all_proxy", "OPENAI_API_KEY", "OPENAI_BASE_URL")}
    for k in keep:
        os.environ.pop(k, None)
    fake = _FakeVLM()
    os.environ.update(SGGIC_VLM_BASE_URL=fake.url, SGGIC_VLM_MODEL="test-vlm", SGGIC_VLM_API_KEY="sk-test")
    yield fake
    fake.close()
    for k, v in keep.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def photo_png(tmp_path_factory, astronaut) -> Path:
    from PIL import Image

    p = tmp_path_factory.mktemp("full-img") / "photo.png"
    Image.fromarray(np.ascontiguousarray(astronaut[::8, ::8][:, :58])).save(p)  # 64x58: odd half size
    return p


@pytest.fixture(scope="module")
def sem_json(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("full-sem") / "sem.json"
    p.write_text(json.dumps(SEMANTICS))
    return p


@pytest.fixture(scope="module")
def described(tiny_models, vlm, photo_png, tmp_path_factory) -> Path:
    """`encode --profile full --describe`: Cheng2020 base (the profile's default), VLM semantics."""
    out = tmp_path_factory.mktemp("full-enc") / "photo.sgc"
    assert main(["encode", str(photo_png), "-o", str(out), "--profile", "full", "--models", str(tiny_models),
                 "--describe", "--bpp", "0.6", "-q"]) == 0
    return out


def _decode_cli(sgc: Path, out: Path, models: Path, capsys) -> str:
    capsys.readouterr()
    assert main(["decode", str(sgc), "-o", str(out), "--profile", "full", "--models", str(models), "-v"]) == 0
    return capsys.readouterr().err


def test_encode_describe_then_decode_full_profile(described, tiny_models, vlm, photo_png, tmp_path, capsys):
    from PIL import Image

    assert vlm.requests and any(part.get("type") == "image_url"
                                for m in vlm.requests[-1]["messages"] if isinstance(m.get("content"), list)
                                for part in m["content"])
    f = container.read(described.read_bytes())
    assert f.header.codec_id == 6 and f.header.restorer_id == 5
    stages = {c.stage: c for c in f.profile.components}
    assert stages[container.STAGE_SEGMENT].component_id == 2  # clipseg
    assert stages[container.STAGE_CODEC].weights_version != 0  # the level's fingerprint
    assert "patch masks" not in f.section_sizes

    capsys.readouterr()
    assert main(["info", str(described)]) == 0
    info = capsys.readouterr().out
    assert "profile: full: codec cheng2020" in info and "segmenter clipseg" in info and "astronaut" in info

    out = tmp_path / "out.png"
    err = _decode_cli(described, out, tiny_models, capsys)
    with Image.open(out) as im, Image.open(photo_png) as src:
        assert im.size == src.size
    assert "CLIPSeg" in err and "made 3 masks" in err
    for name in ("astronaut", "flag", "helmet"):
        assert f"{name} " in err and "%" in err.split(name, 1)[1].split(",")[0]
    assert "restorer: diffusion" in err
    assert "per-object refinement applied to 3 of 3 objects" in err
    assert "pass 1: sampling (2 steps):" in err and "refine 1 (astronaut): sampling" in err


def test_explicit_cheng2020_base_and_cross_process_determinism(tiny_models, photo_png, sem_json, tmp_path, capsys):
    sgc = tmp_path / "c.sgc"
    assert main(["encode", str(photo_png), "-o", str(sgc), "--profile", "full", "--models", str(tiny_models),
                 "--base", "cheng2020", "--semantics", str(sem_json), "--bpp", "0.6", "-q", "--seed", "7"]) == 0
    out = tmp_path / "c.png"
    _decode_cli(sgc, out, tiny_models, capsys)
    want = hashlib.sha256(out.read_bytes()).hexdigest()
    again = tmp_path / "c2.png"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "sggic.cli", "decode", str(sgc), "-o", str(again), "--profile", "full",
                    "--models", str(tiny_models), "-q"], check=True, env=env, capture_output=True)
    assert hashlib.sha256(again.read_bytes()).hexdigest() == want


class _BoxSegmenter(Segmenter):
    """Hard-edged soft masks (exact zeros outside a box) in the names' order."""

    name = "clipseg"  # stands in for the recorded segmenter (no override warning)

    def segment(self, image, prompts, size=None):
        h, w = size or image.shape[:2]
        out = []
        for k, _ in enumerate(prompts):
            m = np.zeros((h, w), np.float32)
            m[2 + 10 * k: 14 + 10 * k, 4 + 12 * k: 20 + 12 * k] = 0.8
            out.append(m)
        return out


class _NoMasks(_BoxSegmenter):
    def segment(self, image, prompts, size=None):
        return []


def test_refinement_changes_pixels_only_under_the_masks(tiny_models, photo_png, sem_json):
    cfg = RunConfig(profile="full", models=tiny_models, threads=1)
    data = encode_detailed(photo_png, bpp=0.6, semantics=Semantics.load(sem_json), config=cfg).data
    refined = decode_detailed(data, config=cfg, segmenter=_BoxSegmenter())
    plain = decode_detailed(data, config=cfg, segmenter=_NoMasks())
    assert refined.warnings == [] and plain.stages["refinement"].startswith("skipped")
    a, b = np.asarray(refined.image), np.asarray(plain.image)
    assert a.shape == b.shape == (64, 58, 3)
    under = np.zeros(a.shape[:2], bool)
    for m in refined.masks:
        under |= m > 0
    assert under.any() and (~under).any()
    assert np.array_equal(a[~under], b[~under])  # outside every mask: pass 1's pixels exactly
    assert np.any(a[under] != b[under])  # refinement did change something under the masks


def test_patch_map_ablation_stores_masks_and_decodes_without_clipseg(tiny_models, photo_png, sem_json, tmp_path,
                                                                      capsys):
    sgc = tmp_path / "p.sgc"
    assert main(["encode", str(photo_png), "-o", str(sgc), "--profile", "full", "--models", str(tiny_models),
                 "--segmenter", "patchmap", "--semantics", str(sem_json), "--bpp", "0.6", "-q"]) == 0
    raw = sgc.read_bytes()
    f = container.read(raw)
    assert len(f.patch_masks) == 24 and f.section_sizes["patch masks"] == 24 + 4  # framing: type, length, CRC-16
    assert f.profile.component(container.STAGE_SEGMENT).component_id == 3
    assert len(raw) <= 0.6 * 64 * 58 / 8
    err = _decode_cli(sgc, tmp_path / "p.png", tiny_models, capsys)
    assert "patchmap (3 8x8 CLIP patch maps stored in the file, 24 bytes)" in err and "CLIPSeg" not in err
    # a file whose patch-mask section was removed is refused
    cut = container.write(f.header, f.base, f.semantics, f.profile)
    with pytest.raises(Exception, match="0 patch maps for 3 objects"):
        decode_detailed(cut, config=RunConfig(profile="full", models=tiny_models))
    # offline encoders cannot write it
    assert main(["encode", str(photo_png), "-o", str(tmp_path / "o.sgc"), "--segmenter", "patchmap"]) == 2
    assert "--profile full" in capsys.readouterr().err


def _toml_with(tiny_models: Path, tmp_path: Path, old: str, new: str) -> Path:
    text = tiny_models.read_text()
    assert old in text
    p = tmp_path / "models.toml"
    # paths in the TOML are relative to its folder: point them back at the tiny models
    text = text.replace(old, new).replace('path = "', f'path = "{tiny_models.parent.as_posix()}/')
    text = text.replace('base = "diffusion', f'base = "{tiny_models.parent.as_posix()}/diffusion')
    text = text.replace('controlnet = "diffusion', f'controlnet = "{tiny_models.parent.as_posix()}/diffusion')
    p.write_text(text)
    return p


def test_missing_or_other_weights_are_one_line(described, tiny_models, tmp_path, capsys):
    out = tmp_path / "x.png"
    # no diffusion weights: one line naming the restorer
    toml = _toml_with(tiny_models, tmp_path, 'base = "diffusion/sd"', 'base = "nowhere/sd"')
    capsys.readouterr()
    assert main(["decode", str(described), "-o", str(out), "--profile", "full", "--models", str(toml)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "restorer 'diffusion'" in err and "nowhere" in err
    assert not out.exists()
    # no CLIPSeg weights: names the segmenter
    toml = _toml_with(tiny_models, tmp_path, '[clipseg]\npath = "clipseg"', '[clipseg]\npath = "no-clipseg"')
    assert main(["decode", str(described), "-o", str(out), "--profile", "full", "--models", str(toml)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "clipseg" in err and "no-clipseg" in err
    # the default registry (no --models) offline: nothing is on this machine
    assert main(["decode", str(described), "-o", str(out), "--profile", "full"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("sggic: error: the full profile cannot run here")
    # other Cheng2020 levels than the encoder's: the recorded fingerprint refuses them
    q = container.read(described.read_bytes()).header.quality
    levels = [f'{{ path = "cheng2020/level{i}.safetensors" }}' for i in range(3)]
    swapped = list(levels)
    swapped[q], swapped[(q + 1) % 3] = swapped[(q + 1) % 3], swapped[q]
    toml = _toml_with(tiny_models, tmp_path, "\n  ".join(x + "," for x in levels),
                      "\n  ".join(x + "," for x in swapped))
    with pytest.raises(MissingWeights, match="base codec 'cheng2020' weights version"):
        decode_detailed(described, config=RunConfig(profile="full", models=toml))
    assert not out.exists()
