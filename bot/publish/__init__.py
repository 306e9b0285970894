"""Publishing a finished triage: the sticky PR comment, the check run, the job summary and outputs.

These modules receive text that is already rendered and escaped; they decide only *where* it goes
and make every write safe to repeat, because a workflow can be re-run and a request can fail after
GitHub already acted on it.
"""
