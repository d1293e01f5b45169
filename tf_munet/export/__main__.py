"""`python -m tf_munet.export RUN_DIR --out DIR` (see tf_munet.export.cli)."""

from tf_munet.export.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
