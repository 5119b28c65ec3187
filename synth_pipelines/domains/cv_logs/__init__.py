"""Computer-vision model-run logs: one record per model phase run."""
