"""Command line: ``python -m data_access <command> …`` — thin wrappers over the API."""

from data_access.cli import main

raise SystemExit(main())
