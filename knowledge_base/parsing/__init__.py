"""Parsers that turn the portal's run-together table text into structured fields."""
