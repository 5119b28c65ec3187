"""Kept datasets: a catalog of generated datasets, their versions, edits through a safety gate, diff and undo."""
