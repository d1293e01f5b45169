"""`python -m tf_munet.cli COMMAND ...`: the same as `tf-munet COMMAND ...`."""

from tf_munet.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
