"""`python -m tf_munet.evaluate`: the command is `tf_munet.cli.evaluate`."""

from tf_munet.cli.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())
