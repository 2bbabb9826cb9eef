"""`warpsmith mcp`: serve warpsmith to IDE agents over the Model Context Protocol (stdio).

Owns: the command and the one line it prints when the optional SDK is missing. Does not own:
the tools (mcp_server.py, imported only when the command runs: it needs the `mcp` package).
"""

from __future__ import annotations

import typer

from warpsmith.cli.errors import usage_error

EXIT_CODES = "Exit codes: 0 the client closed the session, 2 the mcp SDK is not installed or the store cannot be opened."
MISSING_SDK = "warpsmith mcp needs the MCP SDK: pip install warpsmith[mcp]"


def mcp(
    db: str | None = typer.Option(None, "--db", help="SQLAlchemy URL of the store (or WARPSMITH_DB)."),
) -> None:
    """Serve tasks, evaluation, optimize runs and best kernels as MCP tools over stdio."""
    try:
        from warpsmith.cli.mcp_server import serve
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing == "mcp":
            raise usage_error(MISSING_SDK) from None
        if missing.startswith("mcp."):  # an mcp 1.x: MCPServer is the 2.x name of FastMCP
            raise usage_error(f"{MISSING_SDK} (the installed mcp has no {missing}; warpsmith needs mcp 2.x)") from None
        raise

    serve(db)


def register(app: typer.Typer) -> None:
    app.command("mcp", epilog=EXIT_CODES)(mcp)
