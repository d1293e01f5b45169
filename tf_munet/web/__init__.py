"""The separation page: an export's TF-Lite model in the browser (LiteRT.js on WebAssembly).

- `site`: the static site `python -m tf_munet.export RUN_DIR --out DIR --web` writes beside the
  model files (the page's sources are the repository's web/page/; its DSP, web/page/dsp.js,
  mirrors `tf_munet_core`).
- `server`: a local static server with the cross-origin isolation headers threads need.
- `browser`: headless Debian Chromium driving the page on a file (tests, benchmarks, `separate`).
Its command, `python -m tf_munet.web serve|separate|site EXPORT_DIR ...`, is `tf_munet.cli.web`.
"""
