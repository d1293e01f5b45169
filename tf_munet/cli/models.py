"""`python -m tf_munet.models --preset cunet`: parameters and FLOPs of each family."""

from __future__ import annotations

from tf_munet.errors import CommandParser, UserError, add_debug_flag, cli_main
from tf_munet.presets import PRESETS
from tf_munet_core.cli import choices


def summarize(preset_name: str, sources: str = "4stems") -> list[dict]:
    """One row per family: parameters, control-generator share, FLOPs per patch and per
    separated patch (C-U-Net runs once per source)."""
    from tf_munet.models import FAMILIES, build_model, count_flops, count_params
    from tf_munet.presets import get_preset, resolve_sources

    preset = get_preset(preset_name)
    names = resolve_sources(sources)
    rows = []
    for family in FAMILIES:
        model = build_model(preset, family, names)
        flops = count_flops(model)
        passes = FAMILIES[family].passes_per_separation(len(names))
        rows.append(
            {
                "family": family,
                "params": count_params(model),
                "control_params": count_params(model, "control") + count_params(model, "film"),
                "flops_per_pass": flops,
                "flops_per_separation": flops * passes,
            }
        )
    return rows


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = CommandParser(prog="python -m tf_munet.models", description=__doc__)
    parser.add_argument("--preset", default="cunet", **choices(PRESETS, "preset"),
                        help="preset whose network sizes are counted (default: cunet)")
    parser.add_argument("--sources", default="4stems",
                        help="4stems, 2stems or a comma list such as vocals,drums (default: 4stems)")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    try:
        rows = summarize(args.preset, args.sources)
    except ValueError as exc:  # unknown sources
        raise UserError(f"--sources {args.sources}: {exc}") from None
    print(f"preset {args.preset}, sources {args.sources}: cost of one patch")
    print(f"{'family':<10} {'params':>13} {'control':>10} {'GFLOP/pass':>11} {'GFLOP/separation':>17}")
    for r in rows:
        print(
            f"{r['family']:<10} {r['params']:>13,} {r['control_params']:>10,} "
            f"{r['flops_per_pass'] / 1e9:>11.2f} {r['flops_per_separation'] / 1e9:>17.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
