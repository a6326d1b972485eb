"""The Rasa project's own components. Rasa imports this package to load the tokenizer, which
also removes per-turn work Rasa repeats for nothing (``rasa_speedups``)."""

from components import rasa_speedups

rasa_speedups.install()
