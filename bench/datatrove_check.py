"""Checks the datatrove venv: both fastText distributions installed, the `fasttext` module loads
lid.176 (path as the first argument) and predicts Swedish, datatrove's dependency check for its
language filter passes, and spaCy's blank Swedish tokenizer (no model download) splits words."""

import sys
from importlib.metadata import version

from datatrove.utils._import_utils import check_required_dependencies
from datatrove.utils.word_tokenizers import load_word_tokenizer

for dist in ("fasttext-numpy2", "fasttext-numpy2-wheel", "datatrove"):
    print(dist, version(dist))
check_required_dependencies("lid", [("fasttext", "fasttext-numpy2-wheel")])
from fasttext.FastText import _FastText  # noqa: E402

labels, _ = _FastText(sys.argv[1]).predict("Det här är en svensk mening om vädret i Stockholm.")
assert labels[0] == "__label__sv", labels
words = load_word_tokenizer("swe").word_tokenize("Det här är en mening.")
assert words[:3] == ["Det", "här", "är"], words
print("datatrove venv ok")
