"""``python -m featurestore.cli`` runs the command line."""

from __future__ import annotations

from featurestore.cli.main import main

if __name__ == "__main__":
    main()
