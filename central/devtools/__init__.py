"""Development tools: the demo, the load simulator and an embedded broker."""
