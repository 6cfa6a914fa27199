"""Which parts of a pretrained base should a new model keep? Measured, not assumed.

For each architecture with a base (`--base df=DIR liae=DIR`), a new model of one GRID pair is trained
for `--steps` steps from the base twice: keeping every part, and re-initialising the part that
DeepFaceLab re-initialises when pretraining ends (`inter` of `df`, `inter_both` of `liae`); and once
from scratch. Prints the held-out reconstruction loss (both people, no augmentation) at each save.
Same seed, same data, same steps.

Usage: python benchmarks/base_parts.py --base df=../pretrain-work/tiny liae=../pretrain-work/tiny_liae
    [--steps 600] [--pair bbaf2n:lbbc2a] [--work DIR] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CANDIDATES = {"df": ("inter",), "liae": ("inter_both",)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", nargs="+", required=True, metavar="ARCH=DIR")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--pair", default="bbaf2n:lbbc2a")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--preset", default="tiny", help="the training options (the architecture is the base's)"
    )
    args = parser.parse_args()

    from facetransfer.extract.config import ExtractConfig
    from facetransfer.extract.pipeline import extract_faceset
    from facetransfer.faceset.io import is_faceset
    from facetransfer.modelfolder.checkpoints import list_checkpoints, read_state
    from facetransfer.models.registry import MODELS
    from facetransfer.train.loop import resolve_config, train

    work = args.work or Path(tempfile.mkdtemp(prefix="facetransfer_base_parts_"))
    source_name, target_name = args.pair.split(":")
    facesets = {}
    for name in (source_name, target_name):
        facesets[name] = work / name
        if not is_faceset(facesets[name]):
            extract_faceset([args.data / "video" / "grid" / f"{name}.mpg"], facesets[name], ExtractConfig())
    results = []
    for item in args.base:
        architecture, base_dir = item.split("=", 1)
        model_class = MODELS[architecture]
        shipped_policy = model_class.BASE_REINITIALISED
        for label, base, policy in (
            ("keep all", base_dir, ()),
            (f"re-initialise {', '.join(CANDIDATES[architecture])}", base_dir, CANDIDATES[architecture]),
            ("from scratch", "none", ()),
        ):
            model_dir = work / f"{architecture}_{label.replace(' ', '_').replace(',', '')}"
            model_class.BASE_REINITIALISED = policy
            try:
                values = {"train.base": base, "train.iterations": args.steps, "train.threads": args.threads}
                values.update({"train.save_every_steps": max(1, args.steps // 10), "train.preview_every": 0})
                values.update({"train.keep_saves": 100, "model.name": architecture})
                config = resolve_config(model_dir, args.preset, values=values)
                train(facesets[source_name], facesets[target_name], model_dir, config)
            finally:
                model_class.BASE_REINITIALISED = shipped_policy
            states = [read_state(checkpoint) for checkpoint in list_checkpoints(model_dir)]
            holdout = [(state.step, round(state.holdout_loss, 4)) for state in states if state.holdout_loss]
            row = {"architecture": architecture, "start": label, "holdout": holdout}
            results.append(row)
            print(json.dumps(row), flush=True)
    (work / "base_parts.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written {work / 'base_parts.json'}")


if __name__ == "__main__":
    main()
