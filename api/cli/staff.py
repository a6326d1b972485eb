"""``hotline users``: staff accounts. There are no default credentials; the first admin is
created here."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from knowledge_base.settings import get_settings

users_app = typer.Typer(help="Staff accounts of the admin site.", no_args_is_help=True)


@users_app.command("create")
def create(
    username: Annotated[str, typer.Option(prompt=True, help="lower-case login name")],
    role: Annotated[str, typer.Option(help="editor | reviewer | admin")] = "editor",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Create a staff user; without --password-stdin a strong password is generated and shown once."""
    from api.auth.models import Role
    from api.auth.service import AccountError, create_user, generate_password
    from knowledge_base.db import engine_for, migrate, session_scope

    try:
        chosen = Role(role)
    except ValueError as exc:
        raise typer.BadParameter("--role must be editor, reviewer or admin") from exc
    password = sys.stdin.readline().rstrip("\n") if password_stdin else generate_password()
    engine = engine_for(get_settings().database_url)
    migrate(engine)
    try:
        with session_scope(engine) as session:
            create_user(session, username.strip().lower(), chosen, password)
    except AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"created {chosen.value} {username.strip().lower()!r}")
    if not password_stdin:
        typer.echo(f"password (shown once): {password}")


@users_app.command("unlock")
def unlock(username: Annotated[str, typer.Argument(help="login name")]) -> None:
    """Lift the login lock that wrong passwords put on an account (shared through Redis)."""
    import asyncio

    from api.ratelimit import RateLimiter

    settings = get_settings()
    if not settings.redis_url:
        typer.echo("no HOTLINE_REDIS_URL: locks live in each server process; restart it", err=True)
        raise typer.Exit(code=1)
    asyncio.run(RateLimiter(settings).clear("login_user", username.strip().lower()))
    typer.echo(f"unlocked {username.strip().lower()!r}")
