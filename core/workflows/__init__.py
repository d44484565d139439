"""Workflow files and presets."""
