"""``vigie hub user ...`` and ``vigie hub token ...``: manage people and machine clients."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from central.cli.hub import load_hub_config
from central.i18n import LANGUAGES
from central.users import ROLES

ROLE_NAMES = list(ROLES)
CONFIG = click.option("--config", "config", required=True,
                      type=click.Path(dir_okay=False, path_type=Path), help="The hub's TOML config.")


def open_hub(config: Path) -> tuple[Any, Any]:
    """The hub config and a connection to its database; a bad config is a clear CLI error."""
    from central import db as hubdb

    cfg = load_hub_config(config)
    return cfg, hubdb.connect(cfg.database)


def _db(config: Path) -> Any:
    return open_hub(config)[1]


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@click.group()
def user() -> None:
    """Add users, change passwords, disable accounts."""


@user.command("add")
@CONFIG
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLE_NAMES))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--language", type=click.Choice(LANGUAGES), default=None,
              help="The language of their pages and reports (default: the hub's language).")
def user_add(config: Path, username: str, role: str, password_stdin: bool,
             language: str | None) -> None:
    """Create USERNAME with a role (asks for the password)."""
    from central import audit
    from central.users import UserError, add_user, set_language

    db = _db(config)
    try:
        u = add_user(db, username, _password(password_stdin), role)
        if language:
            set_language(db, u.username, language)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record(db, "cli", "user.add", u.username, u.role)
    if language:
        audit.record(db, "cli", "user.language", u.username, language)
    click.echo(f"user {u.username} added with role {u.role}"
               + (f" and language {language}" if language else ""))


@user.command("passwd")
@CONFIG
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_passwd(config: Path, username: str, password_stdin: bool) -> None:
    """Set a new password for USERNAME (ends their sessions)."""
    from central import audit
    from central.users import UserError, set_password

    db = _db(config)
    try:
        set_password(db, username, _password(password_stdin))
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record(db, "cli", "user.passwd", username)
    click.echo(f"password of {username} changed; their sessions are closed")


@user.command("disable")
@CONFIG
@click.argument("username")
@click.option("--enable", is_flag=True, help="Re-enable instead.")
def user_disable(config: Path, username: str, enable: bool) -> None:
    """Disable USERNAME (ends their sessions at once), or re-enable with --enable."""
    from central import audit
    from central.users import UserError, set_disabled

    db = _db(config)
    try:
        set_disabled(db, username, not enable)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record(db, "cli", "user.enable" if enable else "user.disable", username)
    click.echo(f"user {username} {'enabled' if enable else 'disabled'}")


@user.command("list")
@CONFIG
def user_list(config: Path) -> None:
    """List users with their role and state."""
    from central.users import list_users

    for u in list_users(_db(config)):
        click.echo(f"{u.username:32} {u.role:16} {'disabled' if u.disabled else 'active'}")


@click.group()
def token() -> None:
    """API tokens for integrations (machine clients)."""


@token.command("add")
@CONFIG
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLE_NAMES))
def token_add(config: Path, name: str, role: str) -> None:
    """Register integration NAME with a role and print its token (shown once)."""
    from central import audit
    from central.users import UserError, add_api_client

    db = _db(config)
    try:
        tok = add_api_client(db, name, role)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record(db, "cli", "api_client.add", name, role)
    click.echo(tok)


@token.command("list")
@CONFIG
def token_list(config: Path) -> None:
    """List integrations with their role and whether their token is revoked."""
    from central.users import list_api_clients

    for c in list_api_clients(_db(config)):
        click.echo(f"{c['name']:32} {c['role']:16} {'revoked' if c['disabled'] else 'active'}")


@token.command("revoke")
@CONFIG
@click.argument("name")
def token_revoke(config: Path, name: str) -> None:
    """Revoke integration NAME's token: its next request is refused (401)."""
    from central import audit
    from central.users import UserError, revoke_api_client

    db = _db(config)
    try:
        revoke_api_client(db, name)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    audit.record(db, "cli", "api_client.revoke", name)
    click.echo(f"token of {name} revoked")
