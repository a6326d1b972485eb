"""A whitespace tokenizer that folds Vietnamese accents, so "đăng ký" and "dang ky" are one token.

Runs inside the Rasa process (Python 3.10 venv); it repeats the project's folding rule in a few
lines because Rasa cannot import the main package's dependencies.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class FoldingWhitespaceTokenizer(WhitespaceTokenizer):  # type: ignore[misc]
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return dict(WhitespaceTokenizer.get_default_config())

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens: list[Token] = super().tokenize(message, attribute)
        for token in tokens:
            token.text = fold(token.text)
            token.lemma = token.text
        return tokens
