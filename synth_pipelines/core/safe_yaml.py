"""YAML from users with bounded work: few aliases, shallow nesting.

``yaml.safe_load`` expands aliases into shared references, so nine levels of nine aliases (a "billion
laughs" document) load as a value whose walk or repr never ends, and a 5,000-deep document overflows
the composer's recursion. This loader counts aliases and nesting while composing, before any value
exists, and stops with a ``yaml.YAMLError`` that carries the line and column, as a syntax error does.
"""

from __future__ import annotations

from typing import Any

import yaml

# A hand-written config uses a handful of aliases; a bomb needs thousands.
MAX_ALIASES = 100
# Deeper than any config we read, shallow enough for every recursive walk after loading.
MAX_DEPTH = 100


class YAMLLimitError(yaml.MarkedYAMLError):
    """Too many aliases or too deep: reported like a syntax error (``problem`` at ``problem_mark``)."""


class BoundedSafeLoader(yaml.SafeLoader):
    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise YAMLLimitError(problem=f"more than {MAX_ALIASES} aliases", problem_mark=event.start_mark)
        elif isinstance(event, yaml.CollectionStartEvent) and self._depth >= MAX_DEPTH:
            raise YAMLLimitError(problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=event.start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(text: str) -> Any:
    """One YAML document as plain values, within ``MAX_ALIASES`` and ``MAX_DEPTH``."""
    loader = BoundedSafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
