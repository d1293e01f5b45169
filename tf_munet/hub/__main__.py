"""`python -m tf_munet.hub`: the command is `tf_munet.cli.hub`."""

from tf_munet.cli.hub import main

if __name__ == "__main__":
    raise SystemExit(main())
