"""Agent traces: one record per step of an agent run (plan, tool and model calls, final answer)."""
