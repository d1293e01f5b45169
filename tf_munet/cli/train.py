"""`python -m tf_munet.train`: train a separation U-Net and write a self-describing run folder.

    python -m tf_munet.train                       # tiny preset, synthetic data, ~1 minute
    python -m tf_munet.train --preset cunet --model munet --weighting ebw-p1 \\
        --data ~/musdb18hq --run-dir runs/munet-ebw
    python -m tf_munet.train --resume --run-dir runs/munet-ebw --epochs 200

Options are described by `--help` and `tf_munet.training.options.TrainOptions`; the loop by
`tf_munet.training.loop`. TensorFlow is imported only after the options parse.
"""

from __future__ import annotations

from tf_munet.errors import cli_main
from tf_munet.training.options import parse_options


@cli_main
def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    from tf_munet.training.loop import describe_run, run_training

    run_dir = run_training(options)
    print(describe_run(run_dir), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
