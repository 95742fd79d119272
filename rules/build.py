"""Building the model file from the corpus file: `cityops rules build-model`.

Apart from rules/model.py because it reads the corpus with the loader's own reader
and checks (rules/load.py), which itself imports the model: one direction only.
"""

from __future__ import annotations

from pathlib import Path

from cityops.rules.load import read_corpus
from cityops.rules.model import ModelData, ModelSettings, build, corpus_digest


def build_file(
    corpus: Path,
    path: Path,
    settings: ModelSettings | None = None,
    *,
    evaluate: bool = True,
) -> ModelData:
    """Train on the corpus file and write the model file next to the rules."""
    texts, raw = read_corpus(corpus)
    data = build(texts, corpus_digest(raw), settings or ModelSettings(), evaluate=evaluate)
    data.save(path)
    return data
