"""CozyGen's Model Context Protocol tools, without the protocol: what each tool takes and what it answers."""
