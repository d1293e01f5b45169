"""`python -m tf_munet.prepare`: the command is `tf_munet.cli.prepare`."""

from tf_munet.cli.prepare import main

if __name__ == "__main__":
    raise SystemExit(main())
