"""Headless Chromium driving the separation page: the page's own stems, as a user would get them.

Debian's `chromium` (apt-get install -y chromium) is driven with PyPI's `playwright` (no browser
download: `executable_path` names the system browser), in a fresh profile. The page is served by
`tf_munet.web.server` (cross-origin isolated, so LiteRT.js runs threaded), a file is chosen in
its file input, and each stem is saved through its download link.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from tf_munet.errors import UserError, atomic_path, safe_child
from tf_munet.web.server import SiteServer
from tf_munet.web.site import PAGE
from tf_munet_core.litert import SOURCE_NAME

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
)


def find_chromium() -> str:
    """The system Chromium: TF_MUNET_CHROMIUM, else `chromium` on PATH (Debian's package)."""
    path = os.environ.get("TF_MUNET_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path or not Path(path).is_file():
        raise UserError(f"{path or 'chromium'}: Chromium not found; install it (apt-get install -y chromium) "
                        "or set TF_MUNET_CHROMIUM")
    return path


def check_site(export_dir: str | os.PathLike) -> Path:
    """`export_dir` if it holds the page; else a one-line UserError."""
    folder = Path(export_dir)
    if not folder.is_dir():
        raise UserError(f"{folder}: export folder not found")
    if not (folder / PAGE).is_file():
        raise UserError(f"{folder}: no {PAGE}; export with --web (or run python -m tf_munet.web site {folder})")
    return folder


class PageSession:
    """The page of an export open in headless Chromium (a context manager).

    Args:
        export_dir: an export folder with the page (`export --web`).
        variant: the TF-Lite variant the page runs ("float32", "int8", ...).
        timeout: seconds to wait for the page to load its model.
        block_seconds: the page's block length (`separate --block-seconds`).
        fast_fft: FFT-friendly input STFT lengths (`separate --fast-fft`).
    """

    def __init__(self, export_dir: str | os.PathLike, variant: str = "float32", timeout: float = 120.0,
                 block_seconds: float = 30.0, fast_fft: bool = False):
        self.folder = check_site(export_dir)
        self.variant = variant
        self.block_seconds = block_seconds
        self.fast_fft = fast_fft
        self.timeout = timeout
        self.console: list[str] = []

    def __enter__(self) -> "PageSession":
        chromium = find_chromium()
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            raise UserError("playwright: not installed (pip install playwright; it drives the system "
                            "Chromium, no browser download)") from None
        self._profile = tempfile.TemporaryDirectory(prefix="tf_munet_chromium_")
        self._server = SiteServer(self.folder).__enter__()
        self._playwright = sync_playwright().start()
        try:
            self.context = self._playwright.chromium.launch_persistent_context(
                self._profile.name, executable_path=chromium, headless=True, args=list(CHROMIUM_FLAGS),
                accept_downloads=True, viewport={"width": 1000, "height": 760},
            )
            self.page = self.context.new_page()
            self.page.on("console", lambda m: self.console.append(m.text))
            t0 = time.perf_counter()
            query = f"variant={self.variant}&block_seconds={self.block_seconds}&fast_fft={int(self.fast_fft)}"
            self.page.goto(f"{self._server.url}{PAGE}?{query}")
            self._wait(("ready", "error"), self.timeout)
            self.load_seconds = time.perf_counter() - t0  # from the request to the model ready
            self.load_bytes = self._server.bytes_served  # what the page fetched to get there
            self._raise_page_error("cannot load the model")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        for close in (lambda: self.context.close(), self._playwright.stop, lambda: self._server.__exit__(),
                      self._profile.cleanup):
            try:
                close()
            except Exception:  # noqa: BLE001 - closing what may not have opened
                pass

    def state(self) -> dict:
        """The page's `window.tfMunet` state, error and timings."""
        return self.page.evaluate("({state: tfMunet.state, error: tfMunet.error, timings: tfMunet.timings})")

    def _wait(self, states: tuple[str, ...], timeout: float) -> None:
        wanted = " || ".join(f"window.tfMunet?.state === {s!r}" for s in states)
        self.page.wait_for_function(wanted, timeout=timeout * 1000, polling=100)

    def _raise_page_error(self, what: str) -> None:
        got = self.state()
        if got["state"] == "error":
            raise UserError(f"{self.folder / PAGE}: {what}: {got['error']}")

    def separate(self, path: str | os.PathLike, timeout: float | None = None) -> dict:
        """Choose `path` in the page's file input and wait until it is separated; -> timings."""
        path = Path(path)
        self.page.set_input_files("#file", str(path))
        self._wait(("separating", "done", "error"), 30)
        self._wait(("done", "error"), timeout or 600.0)
        self._raise_page_error(f"cannot separate {path}")
        return self.state()["timings"]

    def sources(self) -> list[str]:
        return self.page.eval_on_selector_all("a.download", "links => links.map(a => a.dataset.source)")

    def save_stems(self, target: str | os.PathLike, float32: bool = False) -> dict[str, Path]:
        """Save every stem through its download link as target/<source>.wav (atomically)."""
        self.page.select_option("#format", "float32" if float32 else "pcm16")
        written = {}
        for source in self.sources():
            if not SOURCE_NAME.fullmatch(source or ""):  # the page's names become file names
                raise UserError(f"{self.folder}: bad source name {source!r} in the page")
            with self.page.expect_download() as download:
                self.page.click(f'a.download[data-source="{source}"]')
            final = safe_child(Path(target), f"{source}.wav")
            with atomic_path(final, suffix=".tmp.wav") as tmp:
                download.value.save_as(tmp)
            written[source] = final
        return written

    def screenshot(self, path: str | os.PathLike) -> Path:
        """A PNG of the whole page (atomically)."""
        final = Path(path)
        with atomic_path(final, suffix=".tmp.png") as tmp:
            self.page.screenshot(path=str(tmp), full_page=True)
        return final
