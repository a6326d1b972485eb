"""Vietnamese text handling: normalisation, accent folding, tokens, accent restoration."""

from knowledge_base.text.normalize import fold_accents, normalize_text, strip_fillers, syllables

__all__ = ["fold_accents", "normalize_text", "strip_fillers", "syllables"]
