"""`warpsmith dashboard`: serve the read-only web dashboard over a store.

Owns: the command's options and starting uvicorn. Does not own: the app
(warpsmith.dashboard.app) or how the store is opened read-only (warpsmith.dashboard.readonly).
Binds 127.0.0.1 by default: the dashboard has no authentication, so exposing it on another
interface is the user's explicit choice (--host 0.0.0.0).
"""

from __future__ import annotations

import typer

from warpsmith.cli.errors import usage_error

LOOPBACK = "127.0.0.1"


def dashboard(
    db: str | None = typer.Option(
        None, "--db", help="SQLAlchemy URL of the store (default: WARPSMITH_DB or the user store)."
    ),
    host: str = typer.Option(
        LOOPBACK, "--host", help="Interface to bind; loopback unless you mean otherwise."
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
) -> None:
    """Serve the dashboard (runs, candidates, evaluations, LLM calls) read-only over the store."""
    try:
        import uvicorn

        from warpsmith.dashboard.app import create_app
    except ModuleNotFoundError as error:
        raise usage_error(f"the dashboard needs {error.name}: pip install 'warpsmith[dashboard]'") from None
    from warpsmith.dashboard.readonly import open_readonly
    from warpsmith.store.db import StoreError

    try:
        store = open_readonly(db)
    except StoreError as error:
        raise usage_error(str(error)) from None
    if host not in (LOOPBACK, "localhost", "::1"):
        typer.secho(
            f"warning: serving on {host}: anyone who can reach it can read the store",
            fg=typer.colors.YELLOW,
            err=True,
        )
    typer.echo(f"warpsmith dashboard (read-only) over {store.url} at http://{host}:{port}/")
    try:
        uvicorn.run(create_app(store), host=host, port=port, log_level="warning")
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    app.command("dashboard", epilog="Exit codes: 0 stopped cleanly, 2 a usage error (bad store, missing extra).")(
        dashboard
    )
