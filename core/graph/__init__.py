"""Reading and writing ComfyUI API-format graphs: summaries, form parameters, checks, filling values."""
