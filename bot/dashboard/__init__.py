"""The flaky-test dashboard: one issue, kept up to date, listing what to add to the flaky list,
what to retire from it and what to look at (see docs/dashboard.md).

`core` decides (pure, table-tested); `build` gathers the store's counts for it; `render` writes
the Markdown; `bot.publish.dashboard` keeps the issue and its pull requests on GitHub.
"""
