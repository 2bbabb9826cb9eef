"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

Owns: a tiny HTTP server (stdlib `ThreadingHTTPServer` in a background thread, a free
port) that answers POST .../chat/completions with the next entry of a script, and keeps
every request it received. Does not own: any warpsmith code; tests drive the real litellm
client against it (model 'openai/scripted', api_base=srv.base_url, any api key).

Script entries:
- a `str`: a normal answer with that text;
- an `int`: that HTTP status with an OpenAI-style error body (429, 500, 401, ...);
- `Reply(text, finish_reason=..., prompt_tokens=..., completion_tokens=...)`;
- `Status(code, message)`;
- `Delay(seconds, then)`: sleep (to cause a client timeout), then answer `then`;
- `Garbage(body)`: HTTP 200 with a body that is not a chat completion;
- `Truncated(text)`: HTTP 200 whose body stops halfway (the connection closes early).

When the script is exhausted, `responder(body)` (if given) picks the entry from the
request itself (e.g. by the role its system prompt names); otherwise the server answers
HTTP 500 'script exhausted' and counts it in `srv.unscripted`, so a test that makes one
call too many fails loudly.

    with ScriptedLLMServer(["hello", 500, Delay(2.0, "late")]) as srv:
        srv.base_url, srv.requests  # requests: the JSON bodies received, in order
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    text: str
    finish_reason: str = "stop"
    prompt_tokens: int = 11
    completion_tokens: int = 7


@dataclass
class Status:
    code: int
    message: str = "scripted error"


@dataclass
class Delay:
    seconds: float
    then: Any = "late answer"


@dataclass
class Garbage:
    body: bytes = b"<html>502 proxy says hello</html>"


@dataclass
class Truncated:
    text: str = "this answer never arrives whole"


Entry = str | int | Reply | Status | Delay | Garbage | Truncated


@dataclass
class _State:
    script: list[Any]
    responder: Callable[[dict[str, Any]], Any] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    unscripted: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_entry(self, body: dict[str, Any], headers: dict[str, str]) -> Any:
        with self.lock:
            self.requests.append(body)
            self.headers.append(headers)
            if self.script:
                return self.script.pop(0)
            if self.responder is not None:
                return self.responder(body)
            self.unscripted += 1
            return Status(500, "script exhausted")


def _completion(reply: Reply, model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-scripted-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        },
    }


def _make_handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, code: int, payload: bytes, declared_length: int | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(declared_length or len(payload)))
            if declared_length:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
            if declared_length:
                self.close_connection = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            body = json.loads(raw or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}).encode())
                return
            try:
                self._answer(state.next_entry(body, headers), body.get("model", "scripted"))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a scripted delay made it time out)

        def _answer(self, entry: Any, model: str) -> None:
            if isinstance(entry, Delay):
                time.sleep(entry.seconds)
                entry = entry.then
            if isinstance(entry, str):
                entry = Reply(entry)
            if isinstance(entry, int):
                entry = Status(entry)
            if isinstance(entry, Reply):
                self._send(200, json.dumps(_completion(entry, model)).encode())
            elif isinstance(entry, Status):
                error = {"error": {"message": entry.message, "type": "scripted", "code": entry.code}}
                self._send(entry.code, json.dumps(error).encode())
            elif isinstance(entry, Garbage):
                self._send(200, entry.body)
            elif isinstance(entry, Truncated):
                full = json.dumps(_completion(Reply(entry.text), model)).encode()
                self._send(200, full[: len(full) // 2], declared_length=len(full))
            else:
                raise TypeError(f"unknown script entry {entry!r}")

    return Handler


class ScriptedLLMServer:
    """Context manager: a chat-completions server that replays `script` in order."""

    def __init__(self, script: list[Entry], responder: Callable[[dict[str, Any]], Entry] | None = None) -> None:
        self._state = _State(script=list(script), responder=responder)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self._state))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies received so far, in order (one per attempt, retries included)."""
        return list(self._state.requests)

    @property
    def headers(self) -> list[dict[str, str]]:
        return list(self._state.headers)

    @property
    def unscripted(self) -> int:
        """Requests that arrived after the script ran out."""
        return self._state.unscripted

    @property
    def remaining(self) -> int:
        return len(self._state.script)

    def push(self, *entries: Entry) -> None:
        """Appends entries to the script (for tests that script in steps)."""
        with self._state.lock:
            self._state.script.extend(entries)

    def start(self) -> ScriptedLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
