"""Shared, Dagster-free machinery: keyed random streams, exports, validation helpers."""
