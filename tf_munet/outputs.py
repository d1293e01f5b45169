"""Output folders never mix runs: see `tf_munet_core.outputs` (shared with the edge runner)."""

from tf_munet_core.outputs import describe, output_folder, replace_earlier  # noqa: F401
