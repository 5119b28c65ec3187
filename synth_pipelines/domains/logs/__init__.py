"""Shared machinery of the ML-ops log domains (CV runs, API calls, agent traces).

A log domain declares a field inventory (``fields.FieldSpec``) and cross-field rules
(``fields.Rule``). From those one source of truth come: the pandera schema of clean records, the
JSON line format (``lines.py``), the invalid mirror with its manifest (``mirror.py``), the file
validator (``validator.py``) and the field inventory in the docs.
"""
