"""Ingest stage: drops → the engine's table of kept interactions, and the row accounting.

Receives a `Config`; reads every drop of every source (CSV, JSON, Parquet, xlsx; interaction-
or message-level), maps columns onto the canonical fields, validates each row, applies
supersession, and hands on the kept rows (engine tables) and a `QualityReport`.
"""
