"""Real 2025 ward outlines the demo lays its SYNTHETIC survey in (see PROVENANCE.md)."""
