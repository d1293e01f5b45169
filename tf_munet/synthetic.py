"""`python -m tf_munet.synthetic`: the command is `tf_munet.cli.synthetic`."""

from tf_munet.cli.synthetic import main

if __name__ == "__main__":
    raise SystemExit(main())
