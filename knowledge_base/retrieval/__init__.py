"""Hybrid retrieval over the catalogue and published FAQ: BM25 + dense vectors, fused by RRF."""
