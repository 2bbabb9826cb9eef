"""What makes the dashboard safe to leave open in a browser: a Host allow-list and security headers.

Owns: an ASGI middleware that answers 400 to a request whose Host header is not one the
server was started for (a page elsewhere that rebinds its own DNS name to 127.0.0.1 then
cannot read the store through the victim's browser), and adds to every response a
Content-Security-Policy (scripts, styles and data only from this server; no framing),
X-Content-Type-Options nosniff, X-Frame-Options DENY and a no-referrer policy. Does not own:
routes, or the choice of interface to bind (cli/dashboard_cmd.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host names a request may carry: loopback names, plus the interface bound when it is not a
    wildcard, plus any the user names (e.g. the machine's DNS name behind --host 0.0.0.0)."""
    names = set(LOOPBACK_NAMES)
    if bind_host not in ("0.0.0.0", "::", ""):
        names.add(bind_host.lower())
    names.update(name.lower() for name in extra if name)
    return frozenset(names)


def _host_name(value: str) -> str:
    """'Example.org:8000' -> 'example.org'; '[::1]:8000' -> '[::1]'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class SecurityMiddleware:
    def __init__(self, app: Any, hosts: frozenset[str] | None = None) -> None:
        self.app = app
        self.hosts = hosts if hosts is not None else allowed_hosts("127.0.0.1")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if _host_name(host) not in self.hosts:
            await _refuse(send, host)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _refuse(send: Any, host: str) -> None:
    body = (
        f"host {host[:100]!r} is not allowed: open the dashboard by the address it was started on "
        "(or start it with --allow-host NAME)\n"
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), *HEADERS],
        }
    )
    await send({"type": "http.response.body", "body": body})
