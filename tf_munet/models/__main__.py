"""`python -m tf_munet.models`: the command is `tf_munet.cli.models`."""

from tf_munet.cli.models import main

if __name__ == "__main__":
    raise SystemExit(main())
