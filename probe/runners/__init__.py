"""Test runners: one module per tool, each with pure parsers and a thin subprocess call."""
