# flake-bot as a Docker container action (see action.yml and docs/action.md).
#
# Base: the official python:3.11-slim multi-arch index (Debian trixie), pinned by digest so a rebuilt
# tag cannot change what runs with a write token; this digest was published 2026-08-16 for tag
# python:3.11-slim(-trixie). To update: `docker buildx imagetools inspect python:3.11-slim`, replace
# the digest, rebuild, run the tests.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS build

# Only what the install needs (.dockerignore keeps the rest of the clone out of the context).
COPY pyproject.toml README.md /src/
COPY image/ /src/image/
COPY bot/ /src/bot/
# The same script .ci/run executes to prove these steps without Docker: hash-checked binary wheels
# only, flake-bot built in a throwaway environment, no pip or setuptools left in /opt/flake-bot.
RUN sh /src/image/install.sh /opt/flake-bot /src

FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

# uid 1001 is the `runner` user of GitHub-hosted Linux runners: the workspace and the file-command
# files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY) mounted into the container belong to it, so the action
# can write them without running as root. (GitHub's docs assume root; any other uid could not write.)
RUN useradd --uid 1001 --user-group --no-create-home --shell /usr/sbin/nologin flakebot
COPY --from=build /opt/flake-bot /opt/flake-bot
ENV PATH=/opt/flake-bot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 1001
# action.yml passes the subcommand (`args: [triage]`), so the image also serves `flake-bot report` etc.
ENTRYPOINT ["/opt/flake-bot/bin/flake-bot"]
