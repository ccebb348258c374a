"""Figures stage: kept interactions → every figure of every period, segment and metric.

Receives the engine's tables of kept interactions and the `Config`; hands on `Figures`
(immutable rows, periods, drill-through lists) and restatements. Knows nothing of pages.
"""
