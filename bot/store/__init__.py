"""The history store (SQLite) and the incremental sync that fills it from the GitHub API."""
