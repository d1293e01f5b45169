"""`python -m tf_munet.export`: the command is `tf_munet.cli.export`."""

from tf_munet.cli.export import main

if __name__ == "__main__":
    raise SystemExit(main())
