"""Entrypoint of the ``rasa`` image: ``hotline rasa serve``, reachable from other containers.

``hotline rasa serve`` trains when needed (the image is trained at build time, so normally it
does not), writes the endpoints file from the ``HOTLINE_`` settings and replaces itself with
``rasa run --enable-api``, but on 127.0.0.1, which no other container or pod can reach. This
does the same through the same functions, with the listening address as an option. Drop it
for ``hotline rasa serve`` once that command takes a host.
"""

from __future__ import annotations

import argparse
import os

from knowledge_base.settings import get_settings
from nlu.runtime import RASA_PROJECT, rasa_environment, serve_command, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # all interfaces: the container's network is the boundary (compose network, NetworkPolicy)
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104
    parser.add_argument("--port", type=int, default=5005)
    parser.add_argument(
        "--api-url", default="http://api:8000", help="where the action webhook lives"
    )
    args = parser.parse_args()

    settings = get_settings()
    train(settings)
    command = serve_command(settings, args.port, args.api_url)
    command[command.index("-i") + 1] = args.host
    os.chdir(RASA_PROJECT)
    os.execve(command[0], command, rasa_environment(settings))  # noqa: S606 - fixed argv


if __name__ == "__main__":
    main()
