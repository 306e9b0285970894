"""Orchestration of a triage run: pure decisions (`decisions`) and the I/O around them
(`triage_run`, `console`). `bot.commands.triage` parses arguments and settings and calls in."""
