"""The only part of flake-bot that talks to GitHub (see docs/gateway.md)."""

from bot.gateway.client import GitHubGateway
from bot.gateway.convert import run_from_event
from bot.gateway.download import LogDownload
from bot.gateway.models import CheckRunInfo, CommentInfo, PullRequestInfo

__all__ = ["CheckRunInfo", "CommentInfo", "GitHubGateway", "LogDownload", "PullRequestInfo", "run_from_event"]
