"""``python -m rnnviz.probe_means``: how well a character model's best units follow each named feature on held-out
Python source that nothing here trains on (numpy's own files, ``rnnviz.corpus.heldout_files``). The README's
tables and ``tests/unit/test_bundled_probes.py`` measure it this way.

The figure per feature is the best |r| that any unit's h or c reaches (``rnnviz.probes``), as the mean over the first
FILES held-out files of at least CHARS characters (their first CHARS characters each). One file alone swings by 0.1
to 0.3 between two models of the same quality, so one file is not a figure.

    python -m rnnviz.probe_means                             # the bundled models that read Python
    python -m rnnviz.probe_means path/to/model.safetensors   # any checkpoint of a character model
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import probes as P
from .assets import list_pretrained, load_pretrained
from .checkpoint import load
from .corpus import heldout_files
from .trace import trace

FILES, CHARS = 8, 8000
SHOWN = ("string", "comment", "docstring", "brackets", "indent", "keyword", "column", "line_left", "word_pos",
         "space", "digit", "upper", "punct")


def held_out_texts(files: int = FILES, chars: int = CHARS) -> list[str]:
    """The first ``chars`` characters of the first ``files`` held-out files that long (fewer if fewer are)."""
    return [text[:chars] for _, text in heldout_files() if len(text) >= chars][:files]


def best_means(model, texts: list[str]) -> dict[str, float]:
    """{feature code: mean over ``texts`` of the best |r| of any unit with that feature}."""
    best = []
    for text in texts:
        probes = P.probe(trace(model, text), text)
        best.append({row["code"]: abs(row["best"].r) for row in probes.summary()})
    return {code: float(np.mean([b[code] for b in best])) for code in best[0] if all(code in b for b in best)}


def main(argv: list[str] | None = None, out=sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnviz.probe_means", description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*", help="safetensors files; default: the bundled Python char models")
    args = parser.parse_args(argv)
    texts = held_out_texts()
    if not texts:
        print("No held-out file is long enough: numpy's source is not installed.", file=out)
        return 1
    if args.checkpoints:
        models = [(path, *load(path)) for path in args.checkpoints]
    else:
        models = [(card["name"], *load_pretrained(card["name"])) for card in list_pretrained("char")
                  if card.get("language", "en") != "zh"]
    print(f"Mean best |r| over {len(texts)} held-out numpy files ({CHARS} characters each):", file=out)
    for name, model, card in models:
        model.eval()
        means = best_means(model, texts)
        metrics = card.get("metrics", {})
        scores = " ".join(f"{key} {metrics[key]:.3f}" for key in ("bpc", "heldout_bpc") if key in metrics)
        print(f"{name}: {model.config.cell}, {model.config.hidden_size} units; card: {scores or 'no scores'}", file=out)
        print("  " + " ".join(f"{code} {means[code]:.3f}" for code in SHOWN if code in means), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
