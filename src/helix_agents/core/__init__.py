"""The agent loop, written once against the ports; hosts run it."""
