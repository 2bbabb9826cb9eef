"""`warpsmith dashboard`: serve the read-only web dashboard over a store.

Owns: the command's options and starting uvicorn. Does not own: the app
(warpsmith.dashboard.app) or how the store is opened read-only (warpsmith.dashboard.readonly).
Binds 127.0.0.1 by default: the dashboard has no authentication, so exposing it on another
interface is the user's explicit choice (--host 0.0.0.0).
"""

from __future__ import annotations

import errno
import socket

import typer

from warpsmith.cli.errors import usage_error

LOOPBACK = "127.0.0.1"


def _port_problem(host: str, port: int) -> str | None:
    """Why uvicorn could not listen there (in use, no such address), asked before the URL is printed."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((host, port))
    except socket.gaierror:
        return f"--host {host}: not an address of this machine"
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            return f"port {port} on {host} is in use; pick another with --port"
        return f"cannot listen on {host}:{port}: {error.strerror or error}"
    return None


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
    if problem := _port_problem(host, port):
        store.close()
        raise usage_error(problem)
    typer.echo(f"warpsmith dashboard (read-only) over {store.url} at http://{host}:{port}/")
    try:
        uvicorn.run(create_app(store), host=host, port=port, log_level="warning")
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    app.command("dashboard", epilog="Exit codes: 0 stopped cleanly, 2 a usage error (bad store, missing extra).")(
        dashboard
    )
