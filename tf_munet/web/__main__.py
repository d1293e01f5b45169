"""`python -m tf_munet.web`: the command is `tf_munet.cli.web`."""

from tf_munet.cli.web import main

if __name__ == "__main__":
    raise SystemExit(main())
