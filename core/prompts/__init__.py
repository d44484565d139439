"""Prompt text: wildcards and enrichment."""
