"""The language models CozyGen asks (the assistant, enrich, random prompts, the seeds' chat routes): the providers
(model), the seam to the network (transport: core never imports aiohttp), the one client (client) and the
providers kept in the ``profiles`` table (providers)."""
