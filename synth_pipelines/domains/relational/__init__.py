"""Relational data from SQL DDL: every declared constraint holds."""
