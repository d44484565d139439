"""CozyGen's domain logic: no aiohttp and no ComfyUI imports, unit-testable alone."""
