"""Definitions (entities, feature views) and the registry table that stores them."""
