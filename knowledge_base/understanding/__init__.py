"""Query understanding: what a question (or a procedure name) is about — its object, its action
and its qualifiers — read through the colloquial lexicon (``data/lexicon.tsv``)."""
