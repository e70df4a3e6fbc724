"""Tenancy: workspaces and their API keys (SPEC §2)."""
