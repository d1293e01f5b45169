"""Released models of other projects, converted into tf_munet run folders.

`python -m tf_munet.hub spleeter:4stems --run-dir DIR` (see `tf_munet.cli.hub`).
"""
