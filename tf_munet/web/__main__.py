"""`python -m tf_munet.web serve|separate ...` (see tf_munet.web.cli)."""

from tf_munet.web.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
