"""`python -m tf_munet.hub MODEL --run-dir DIR` (see tf_munet.hub.cli)."""

from tf_munet.hub.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
