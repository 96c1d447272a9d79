"""Test helpers shared by several test packages (in-process fake servers, builders)."""
