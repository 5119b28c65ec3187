"""One folder per domain; each exposes plain functions plus a ``Domain`` for the pipeline."""
