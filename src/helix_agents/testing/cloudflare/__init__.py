"""Fakes of the Cloudflare side, for tests of the Cloudflare host in CPython."""
