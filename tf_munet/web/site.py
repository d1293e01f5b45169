"""The static separation site written beside an export's model files (`export --web`).

    OUT/index.html              the page (it reads OUT/manifest.json and the .tflite files)
    OUT/web/*.js, style.css     the page's scripts (the repository's web/page/)
    OUT/web/vendor/litertjs/    LiteRT.js and its WebAssembly runtimes (npm @litertjs/core)
    OUT/web/vendor/pocketfft/   pocketfft in WebAssembly (web/pocketfft/build.sh)
    OUT/web/vendor/soxr/        libsoxr in WebAssembly (web/soxr/build.sh)

Nothing is fetched from elsewhere at run time: the folder works offline and from any static
host (threads need the COOP/COEP headers `tf_munet.web.server` sends). The npm packages come
from `npm ci` in the repository's web/ folder (or the folder TF_MUNET_WEB names).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tf_munet.errors import UserError, atomic_path

PAGE = "index.html"
SCRIPTS = "web"
SITE_ENTRIES = (PAGE, SCRIPTS)
"""What the site adds to an export folder (an earlier export's site is replaced with it)."""

LITERT_WASM = ("litert_wasm_threaded_internal", "litert_wasm_internal", "litert_wasm_compat_internal")
"""LiteRT.js runtimes: threads (cross-origin isolated pages), relaxed SIMD, and plain WebAssembly
(the JSPI build serves WebNN and GPU partitioning, which the page does not use)."""
VENDOR = (
    ("@litertjs/core/dist/index.js", "vendor/litertjs/core/index.js"),
    ("@litertjs/wasm-utils/dist/index.js", "vendor/litertjs/wasm-utils/index.js"),
    *((f"@litertjs/core/wasm/{name}{ext}", f"vendor/litertjs/wasm/{name}{ext}")
      for name in LITERT_WASM for ext in (".js", ".wasm")),
)
"""(file under node_modules, where the site serves it)."""
BUILT = ("soxr/soxr.wasm", "soxr/LICENCE", "pocketfft/pocketfft.wasm", "pocketfft/LICENSE")
"""Files under web/ that the site serves under vendor/: libsoxr and pocketfft, built into
WebAssembly by web/soxr/build.sh and web/pocketfft/build.sh (committed)."""
BARE_IMPORT = ('from "@litertjs/wasm-utils"', 'from "../wasm-utils/index.js"')
"""LiteRT.js imports its helper by package name; the site serves ES modules as they are (no
bundler), so the copy imports it by path."""


def web_folder() -> Path:
    """The folder with package.json, page/, soxr/, pocketfft/ and node_modules/: TF_MUNET_WEB, else the
    repository's web/."""
    env = os.environ.get("TF_MUNET_WEB")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "web"


def check_web_folder(folder: Path | None = None) -> Path:
    """`folder` (default `web_folder()`) if it holds everything the site copies; else a one-line
    UserError saying what to run."""
    folder = folder or web_folder()
    if not (folder / "page" / PAGE).is_file():
        raise UserError(f"{folder}: no web page sources (page/{PAGE}); set TF_MUNET_WEB to the "
                        "repository's web/ folder")
    missing = [src for src, _ in VENDOR if not (folder / "node_modules" / src).is_file()]
    if missing:
        raise UserError(f"{folder / 'node_modules'}: missing {missing[0]}; run `npm ci --prefix {folder}` "
                        "(or set TF_MUNET_WEB to a web/ folder where it ran)")
    for built in BUILT:
        if not (folder / built).is_file():
            raise UserError(f"{folder / built}: missing; run `bash {folder / Path(built).parent / 'build.sh'}`")
    return folder


def write_site(out: str | os.PathLike, folder: Path | None = None) -> list[Path]:
    """Write the page and its scripts into the export folder `out` (replacing an earlier site).

    The scripts are assembled in a temporary folder inside `out` and renamed into place, so a
    killed export never leaves half a site behind a complete-looking page.
    """
    folder = check_web_folder(folder)
    out = Path(out)
    if not (out / "manifest.json").is_file():
        raise UserError(f"{out}: no manifest.json; the site goes beside a TF-Lite export")
    with tempfile.TemporaryDirectory(prefix=".web.tmp", dir=out) as tmp:
        scripts = Path(tmp) / SCRIPTS
        scripts.mkdir()
        for path in sorted((folder / "page").iterdir()):
            if path.is_file() and path.name != PAGE:
                shutil.copyfile(path, scripts / path.name)
        for src, dst in VENDOR:
            target = scripts / dst
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / "node_modules" / src, target)
        for src in BUILT:
            (scripts / "vendor" / src).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / src, scripts / "vendor" / src)
        core = scripts / "vendor/litertjs/core/index.js"
        text = core.read_text(encoding="utf-8")
        if text.count(BARE_IMPORT[0]) != 1:
            raise UserError(f"{folder / 'node_modules' / VENDOR[0][0]}: unexpected LiteRT.js build (no single "
                            f"import {BARE_IMPORT[0]!r}); run `npm ci --prefix {folder}`")
        core.write_text(text.replace(*BARE_IMPORT), encoding="utf-8")
        if (out / SCRIPTS).exists():
            shutil.rmtree(out / SCRIPTS)
        scripts.rename(out / SCRIPTS)
    with atomic_path(out / PAGE, suffix=".tmp.html") as tmp_page:
        shutil.copyfile(folder / "page" / PAGE, tmp_page)
    return [out / PAGE, out / SCRIPTS]


def site_bytes(out: str | os.PathLike) -> int:
    """Bytes of the site's own files (the page and its scripts, without the models)."""
    out = Path(out)
    return (out / PAGE).stat().st_size + sum(p.stat().st_size for p in (out / SCRIPTS).rglob("*") if p.is_file())
