"""Pretrain the shipped bases, resumably, and write candidate base files.

    python tools/pretrain_bases.py --preset cpu --iterations 20000 [--work ../pretrain-work]
        [--pool ../shared/data/pretrain/lfw ../shared/data/pretrain/utkface] [-- PRETRAIN OPTIONS]

Each run resumes `WORK/<preset>/` (a `facetransfer pretrain` base folder; its pool is extracted on
the first run only) until the base reaches `--iterations` (or `--minutes` of this run pass), then
writes `WORK/<preset>.candidate.safetensors` (fp16, the base's best checkpoint by held-out loss) and
prints its step and held-out loss. Options after `--` go to `facetransfer pretrain` (for example
`-- --learning-rate 0.001 --clip-grad-norm 5`, which the `tiny` base needed: at the preset's 0.003 it
collapsed after 2,700 steps).
Copy a candidate to `src/facetransfer/data/bases/<preset>.safetensors` only when the quality
benchmark (`benchmarks/quality.py --base`) shows it better than the base shipped now.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POOL = [ROOT.parent / "shared/data/pretrain/lfw", ROOT.parent / "shared/data/pretrain/utkface"]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", required=True)
    parser.add_argument("--iterations", type=int, required=True, help="the base's step to reach")
    parser.add_argument("--minutes", type=float, default=None, help="stop this run after this long")
    parser.add_argument("--work", type=Path, default=ROOT.parent / "pretrain-work")
    parser.add_argument("--pool", type=Path, nargs="+", default=DEFAULT_POOL, help="photo folders, facesets")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("extra", nargs="*", help="options for facetransfer pretrain (after --)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    base_dir = args.work / args.preset
    command = [
        sys.executable, "-m", "facetransfer", "pretrain", *map(str, args.pool), "-o", str(base_dir),
        "--preset", args.preset, "--iterations", str(args.iterations), "--threads", str(args.threads),
        "--save-every-min", "10",
    ]  # fmt: skip
    if args.minutes:
        command += ["--minutes", str(args.minutes)]
    command += args.extra
    finished = subprocess.run(command, check=False)
    if finished.returncode not in (0, 130, 143):
        return finished.returncode

    from facetransfer.modelfolder.bases import export_base
    from facetransfer.modelfolder.describe import describe_model

    candidate = export_base(base_dir, args.work / f"{args.preset}.candidate.safetensors")
    info = describe_model(base_dir)
    print(
        json.dumps(
            {
                "candidate": str(candidate),
                "megabytes": round(candidate.stat().st_size / 1e6, 1),
                "step": info["step"],
                "holdout_loss": info["best"],
                "hours": round(info["elapsed_s"] / 3600, 2),
                "faces": (info["pool"] or {}).get("faces"),
            },
            indent=2,
        )
    )
    return finished.returncode


if __name__ == "__main__":
    sys.exit(main())
