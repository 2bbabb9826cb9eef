"""`warpsmith dashboard`: serve the read-only web dashboard over a store.

Owns: the command's options and running uvicorn: which Host names are served (loopback names,
the interface given with --host, any --allow-host), and a clean stop on SIGTERM or Ctrl-C
(requests still running get a few seconds, then the process exits whatever they do). Does
not own: the app (warpsmith.dashboard.app) or how the store is opened read-only
(warpsmith.dashboard.readonly). Binds 127.0.0.1 by default: the dashboard has no
authentication, so exposing it on another interface is the user's explicit choice (--host 0.0.0.0).
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from types import FrameType

import typer

from warpsmith.cli.errors import usage_error

LOOPBACK = "127.0.0.1"
GRACE_S = 3  # requests in flight at SIGTERM get this long; then the process exits regardless


def _server(app: object, host: str, port: int) -> object:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn, with a hard stop: a request abandoned by its client cannot hold the process."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            timer = threading.Timer(GRACE_S + 2, os._exit, args=(0,))
            timer.daemon = True
            timer.start()

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACE_S)
    return Server(config)


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
    host: str | None = typer.Option(
        None, "--host", help="Interface to bind; loopback unless you mean otherwise (default: dashboard.host)."
    ),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="TCP port (default: dashboard.port, 8000)."),
    allow_host: list[str] = typer.Option(
        [],
        "--allow-host",
        help="Another Host name the browser may use (e.g. this machine's DNS name with --host 0.0.0.0).",
    ),
) -> None:
    """Serve the dashboard (runs, candidates, evaluations, LLM calls) read-only over the store."""
    from warpsmith.cli.config_cmd import cli_settings

    shown = cli_settings({"dashboard.host": host, "dashboard.port": port}).dashboard
    host, port = shown.host, shown.port
    try:
        import uvicorn  # noqa: F401

        from warpsmith.dashboard.app import create_app
    except ModuleNotFoundError as error:
        raise usage_error(f"the dashboard needs {error.name}: pip install 'warpsmith[dashboard]'") from None
    from warpsmith.dashboard.readonly import open_readonly
    from warpsmith.dashboard.security import allowed_hosts
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
        _server(create_app(store, allowed_hosts(host, allow_host)), host, port).run()  # type: ignore[attr-defined]
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    app.command("dashboard", epilog="Exit codes: 0 stopped cleanly, 2 a usage error (bad store, missing extra).")(
        dashboard
    )
