"""Catalogue importers: every format becomes ``ProcedureRecord`` rows upserted by code."""
