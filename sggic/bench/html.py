"""``sggic bench --keep-images``: a page to look at the pictures, not only the numbers.

One section per image and target rate: the original, then every codec's decoded picture
at that byte budget, side by side, labelled with its real size and scores. Zoom is shared
by the row: pick 1x-8x (or click a picture) and move the pointer over any panel, and
every panel shows the same spot at the same magnification, pixels unsmoothed. One
self-contained file: inline CSS and a few lines of JS, no CDN, pictures by relative path
(``images/``), so the folder can be copied or served as is.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Sequence

from .run import RunResult, _safe, image_path, point_key

LABEL_METRICS = ("psnr", "ms_ssim", "ssimulacra2", "brisque")

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px;background:#f4f4f4;color:#222}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 6px}
.bar{position:sticky;top:0;z-index:2;background:#f4f4f4;padding:6px 0;border-bottom:1px solid #ccc}
.bar button{margin-right:4px} .bar button.on{background:#234;color:#fff}
.row{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;background:#fff;border:1px solid #ccc;padding:4px;width:var(--w,256px)}
.view{width:100%;aspect-ratio:var(--ar,1);overflow:hidden;position:relative;cursor:zoom-in;background:#ddd}
.view img{width:100%;height:100%;display:block;transform-origin:var(--x,50%) var(--y,50%);
 transform:scale(var(--z,1))}
.zoomed .view img{image-rendering:pixelated} .zoomed .view{cursor:zoom-out}
figcaption{font-size:12px;margin-top:3px} figcaption b{font-size:13px}
.miss{display:flex;align-items:center;justify-content:center;text-align:center;color:#844;padding:8px}
.above{color:#a40}
"""

_JS = """
(function(){
  var zoom=1;
  function setZoom(z){zoom=z;document.querySelectorAll('.row').forEach(function(r){
    r.style.setProperty('--z',z);r.classList.toggle('zoomed',z>1);});
    document.querySelectorAll('.bar button[data-z]').forEach(function(b){
      b.classList.toggle('on',+b.dataset.z===z);});}
  document.querySelectorAll('.bar button[data-z]').forEach(function(b){
    b.addEventListener('click',function(){setZoom(+b.dataset.z);});});
  document.querySelectorAll('.bar button[data-w]').forEach(function(b){
    b.addEventListener('click',function(){document.body.style.setProperty('--w',b.dataset.w+'px');});});
  document.querySelectorAll('.view').forEach(function(v){
    v.addEventListener('mousemove',function(e){var r=v.getBoundingClientRect();
      var row=v.closest('.row');
      row.style.setProperty('--x',(100*(e.clientX-r.left)/r.width)+'%');
      row.style.setProperty('--y',(100*(e.clientY-r.top)/r.height)+'%');});
    v.addEventListener('click',function(){setZoom(zoom>1?1:4);});});
  var q=new URLSearchParams(location.search);
  if(q.get('w'))document.body.style.setProperty('--w',(+q.get('w'))+'px');
  setZoom(+(q.get('zoom')||1));
})();
"""


def _label(rec: dict[str, Any]) -> str:
    parts = [f"{rec['bytes']} B, {rec['bpp']:.4f} bpp"]
    m = rec.get("metrics", {})
    for name in LABEL_METRICS:
        v = m.get(name)
        if isinstance(v, (int, float)):
            parts.append(f"{name} {v:.3g}")
    text = html.escape(" · ".join(parts))
    if rec.get("above_target"):
        text += ' <span class="above">(smallest file, above target)</span>'
    return text


def _figure(src: str | None, title: str, caption: str, missing: str = "") -> str:
    if src is None:
        body = f'<div class="view miss">{html.escape(missing)}</div>'
    else:
        body = f'<div class="view"><img src="{html.escape(src)}" alt="{html.escape(title)}" loading="lazy"></div>'
    return f"<figure>{body}<figcaption><b>{html.escape(title)}</b><br>{caption}</figcaption></figure>"


def write_html(result: RunResult, bpps: Sequence[float], outdir: str | Path, title: str = "sggic bench") -> Path:
    """Write ``OUTDIR/compare.html`` from the kept images; returns its path."""
    out = Path(outdir)
    by_point = {(r["image"], r["codec"], float(r["target_bpp"])): r for r in result.records}
    images = list(dict.fromkeys(r["image"] for r in result.records)) or list(result.originals)
    codecs = list(result.codecs)
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(title)}</title>",
             f"<meta name=viewport content='width=device-width'><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             "<p>Every codec at the same whole-file byte budget (target rate). Zoom is shared by each row: "
             "choose a factor or click a picture, then point at the spot to compare "
             "(also <code>?zoom=4&amp;w=384</code> in the address).</p>",
             '<div class="bar">zoom: ' + "".join(f'<button data-z="{z}">{z}x</button>' for z in (1, 2, 4, 8))
             + " &nbsp; size: " + "".join(f'<button data-w="{w}">{w}px</button>' for w in (192, 256, 384, 512))
             + "</div>"]
    for img in images:
        orig = image_path(out, f"{_safe(img)}__original")
        w = h = None
        for r in result.records:
            if r["image"] == img and r.get("width"):
                w, h = r["width"], r["height"]
                break
        ar = f"{w}/{h}" if w and h else "1"
        for bpp in bpps:
            parts.append(f"<h2>{html.escape(img)} — target {bpp:g} bpp"
                         + (f" ({int(bpp * w * h // 8)} bytes, {w}x{h})" if w and h else "") + "</h2>")
            figs = [_figure(orig.relative_to(out).as_posix() if orig.exists() else None, "original",
                            f"{w}x{h}" if w else "", "original not kept")]
            for c in codecs:
                rec = by_point.get((img, c, float(bpp)))
                if rec is None:
                    continue
                if rec.get("status") != "ok":
                    figs.append(_figure(None, c, "", "cannot make a file this small"))
                    continue
                p = image_path(out, point_key(img, c, bpp))
                figs.append(_figure(p.relative_to(out).as_posix() if p.exists() else None, c, _label(rec),
                                    "picture not kept"))
            parts.append(f'<div class="row" style="--ar:{ar}">' + "".join(figs) + "</div>")
    parts.append(f"<script>{_JS}</script></body></html>")
    path = out / "compare.html"
    tmp = path.with_name(".compare.html.part")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    tmp.replace(path)
    return path
