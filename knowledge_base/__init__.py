"""Procedure catalogue, FAQ and retrieval."""
