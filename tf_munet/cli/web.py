"""`python -m tf_munet.web serve|separate|site`: the separation page of an export.

    serve EXPORT_DIR                    serve the page on http://127.0.0.1:8000/ (threads on)
    separate EXPORT_DIR INPUT... -o OUT the page's stems in headless Chromium, written like
                                        `separate`'s: OUT/<input name>/<source>.wav
    site EXPORT_DIR                     add the page to an export made without --web
"""

from __future__ import annotations

import argparse
import sys
import time

from tf_munet.errors import UserError, add_debug_flag, cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tf_munet.web",
                                description="The browser separation page of a TF-Lite export (export --web).")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="serve the page locally (cross-origin isolated: threads on)")
    s.add_argument("export_dir", metavar="EXPORT_DIR", help="folder written by python -m tf_munet.export --web")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    add_debug_flag(s)

    d = sub.add_parser("separate", help="separate files with the page in headless Chromium")
    d.add_argument("export_dir", metavar="EXPORT_DIR", help="folder written by python -m tf_munet.export --web")
    d.add_argument("inputs", metavar="INPUT", nargs="+", help="audio files (anything Chromium decodes)")
    d.add_argument("-o", "--out", required=True, metavar="OUTDIR",
                   help="output folder: stems go to OUTDIR/<input name>/<source>.wav")
    d.add_argument("--variant", default="float32", help="TF-Lite variant the page runs (default float32)")
    d.add_argument("--float32", action="store_true", help="write 32-bit float WAV (default 16-bit PCM)")
    d.add_argument("--screenshot", metavar="PNG", default=None, help="save the page after separation")
    d.add_argument("--block-seconds", type=float, default=30.0,
                   help="process long files in blocks of this length, as separate does (default 30)")
    d.add_argument("--fast-fft", action="store_true",
                   help="input-rate STFTs of an FFT-friendly length within 0.1%% of the model's window, as "
                   "separate --fast-fft (faster in the page too)")
    d.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per file (default 1800)")
    d.add_argument("--overwrite", action="store_true", help="replace stems an earlier run left")
    add_debug_flag(d)

    w = sub.add_parser("site", help="write the page into an existing export folder")
    w.add_argument("export_dir", metavar="EXPORT_DIR", help="folder written by python -m tf_munet.export")
    add_debug_flag(w)
    return p


def serve(args: argparse.Namespace) -> int:
    from tf_munet.web.browser import check_site
    from tf_munet.web.server import SiteServer
    from tf_munet.web.site import PAGE

    folder = check_site(args.export_dir)
    try:
        server = SiteServer(folder, port=args.port, host=args.host)
    except OSError as exc:
        raise UserError(f"{args.host}:{args.port}: cannot listen ({exc.strerror or exc}); try --port 0") from None
    with server:
        print(f"Serving {folder} at {server.url}{PAGE} (Ctrl-C stops)", flush=True)
        try:
            server.thread.join()
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
    return 0


def separate(args: argparse.Namespace) -> int:
    from tf_munet.web.browser import PageSession
    from tf_munet_core.layout import Layout

    if args.block_seconds < 2.0:
        raise UserError(f"--block-seconds {args.block_seconds}: must be at least 2")
    layout = Layout(args.out)  # separate's default names: OUT/<track>/<source>.wav
    # the page writes every source into one folder per track: plan one stem to get that folder
    pairs = [(path, files["stem"].parent) for path, files in layout.plan(args.inputs, ("stem",), "wav")]
    with PageSession(args.export_dir, variant=args.variant, block_seconds=args.block_seconds,
                     fast_fft=args.fast_fft) as session:
        layout.clear_earlier([path for path, _ in pairs], args.overwrite)
        for path, target in pairs:
            t0 = time.perf_counter()
            timings = session.separate(path, timeout=args.timeout)
            written = session.save_stems(target, float32=args.float32)
            seconds = timings.get("audioSeconds") or 0.0
            print(f"{path}: {seconds:.1f} s in {time.perf_counter() - t0:.1f} s (page: first audio after "
                  f"{timings.get('firstAudioSeconds', 0):.1f} s) -> {target}/ ({', '.join(written)})", flush=True)
        if args.screenshot:
            print(f"screenshot -> {session.screenshot(args.screenshot)}", flush=True)
    return 0


def site(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tf_munet.web.site import write_site

    folder = Path(args.export_dir)
    if not folder.is_dir():
        raise UserError(f"{folder}: export folder not found")
    print(f"page -> {write_site(folder)[0]}")
    return 0


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return {"serve": serve, "separate": separate, "site": site}[args.command](args)
