"""`python -m tf_munet.synthetic`: write a small synthetic MUSDB18-HQ-layout data set.

Example:
    python -m tf_munet.synthetic --out data/synthetic --train 6 --test 2 --seconds 10 --seed 0
"""

from __future__ import annotations

import argparse

from tf_munet.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tf_munet.synthetic",
        description="Write procedurally generated stems (vocal-, drum-, bass- and other-like; "
        "mixture = sum) in the MUSDB18-HQ layout: {train,test}/<track>/{mixture,vocals,drums,bass,other}.wav.",
    )
    p.add_argument("--out", required=True, help="root folder to write")
    p.add_argument("--train", type=int, default=4, help="train tracks (default 4)")
    p.add_argument("--test", type=int, default=2, help="test tracks (default 2)")
    p.add_argument("--seconds", type=float, default=6.0, help="track length in seconds (default 6)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--rate", type=int, default=44100, help="sample rate (default 44100)")
    p.add_argument("--channels", type=int, default=2, choices=(1, 2), help="channels (default 2)")
    p.add_argument("--stems", action="store_true", help="also write <subset>/<track>.stem.mp4 (MUSDB18 STEMS)")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tf_munet.data.synthetic import write_synthetic_musdb

    root = write_synthetic_musdb(args.out, train=args.train, test=args.test, seconds=args.seconds,
                                 seed=args.seed, rate=args.rate, channels=args.channels, stems=args.stems)
    print(f"wrote {args.train} train + {args.test} test tracks to {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
