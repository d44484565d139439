"""The language-model providers over HTTP: the aiohttp transport core/llm talks through, and the admin routes."""
