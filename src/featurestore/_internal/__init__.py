"""Private helpers shared by the package's modules; not part of the public API."""
