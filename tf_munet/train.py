"""`python -m tf_munet.train`: the command is `tf_munet.cli.train`."""

from tf_munet.cli.train import main

if __name__ == "__main__":
    raise SystemExit(main())
