"""Dagster wiring shared by all domains: partitions, the asset factory, resources, schedules."""
