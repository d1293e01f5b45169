"""`python -m tf_munet.separate`: the command is `tf_munet.cli.separate`."""

from tf_munet.cli.separate import main

if __name__ == "__main__":
    raise SystemExit(main())
