"""The application shell: every command's run, with its decisions pure and apart.

- `inputs` reads every action input once, by one rule; `app` builds the gateways, the store and
  the history sync from the environment.
- triage: `triage_event` (the event and settings) -> `triage_run` (the requests), deciding with
  `decisions`; `triage_offline` for one log on disk; `history` the rates and evidence from the store.
- dashboard: `dashboard_run` (the requests), deciding with `dashboard_decisions`.
- `console` is how a run speaks on stdout and stderr.

`bot.commands` holds only the argument parsers that call in here.
"""
