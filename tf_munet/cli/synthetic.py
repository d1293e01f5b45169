"""`python -m tf_munet.synthetic`: write a small generated MUSDB18-HQ-layout data set.

Examples:
    python -m tf_munet.synthetic --out data/synthetic --train 6 --test 2 --seconds 10 --seed 0
    python -m tf_munet.synthetic --style rendered --out data/rendered --train 8 --test 2 --seconds 30
    python -m tf_munet.synthetic --style rendered --midi my_midi_folder --out data/midi --train 20 --test 5

--style procedural (default): sine-harmonic melodies, noise drums and pads, fast, for unit tests.
--style rendered: composed songs (or --midi files) played by FluidSynth with a General MIDI
SoundFont and a sung vocal line (espeak-ng + WORLD); needs the Debian packages fluidsynth,
fluid-soundfont-gm and espeak-ng.
"""

from __future__ import annotations

import argparse

from tf_munet.errors import CommandParser, UserError, add_debug_flag, cli_main
from tf_munet_core.cli import choices

DEFAULT_SECONDS = {"procedural": 6.0, "rendered": 30.0}


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser(
        prog="python -m tf_munet.synthetic",
        description="Write generated stems (mixture = exact sum) in the MUSDB18-HQ layout: "
        "{train,test}/<track>/{mixture,vocals,drums,bass,other}.wav.",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--out", required=True, help="root folder to write")
    p.add_argument("--style", **choices(DEFAULT_SECONDS, "style"), default="procedural",
                   help="procedural (default) or rendered (sampled instruments and singing)")
    p.add_argument("--midi", help="rendered style: a MIDI file or folder to render instead of composed "
                   "songs (first --train files to train, next --test to test)")
    p.add_argument("--train", type=int, default=4, help="train tracks (default 4)")
    p.add_argument("--test", type=int, default=2, help="test tracks (default 2)")
    p.add_argument("--seconds", type=float, default=None,
                   help="track length in seconds (default 6 procedural, 30 rendered; with --midi: "
                   "crop length, default the whole file)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--rate", type=int, default=44100, help="sample rate (default 44100)")
    p.add_argument("--channels", type=int, default=2, choices=(1, 2), help="channels (default 2)")
    p.add_argument("--stems", action="store_true", help="also write <subset>/<track>.stem.mp4 (MUSDB18 STEMS)")
    add_debug_flag(p)
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.style == "rendered":
        from tf_munet.data.render import write_rendered_musdb

        seconds = args.seconds if args.seconds is not None or args.midi else DEFAULT_SECONDS["rendered"]
        root = write_rendered_musdb(args.out, train=args.train, test=args.test, seconds=seconds,
                                    seed=args.seed, rate=args.rate, channels=args.channels,
                                    stems=args.stems, midi=args.midi)
    else:
        if args.midi:
            raise UserError("--midi needs --style rendered")
        from tf_munet.data.synthetic import write_synthetic_musdb

        seconds = args.seconds if args.seconds is not None else DEFAULT_SECONDS["procedural"]
        root = write_synthetic_musdb(args.out, train=args.train, test=args.test, seconds=seconds,
                                     seed=args.seed, rate=args.rate, channels=args.channels, stems=args.stems)
    print(f"wrote {args.train} train + {args.test} test tracks to {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
