"""The private result channel (parent side) and the bounded log collector.

Owns: reading the one JSON message the child sends over the pipe the parent created, with a
size cap, and validating it with pydantic; draining the child's stdout+stderr into a log
that keeps its head and tail. Does not own: what the message means for the run's status
(process.py). The child's side is `_send` in child.py.

Trust: only the parent and the child hold this pipe, so output printed by the child (or by
anything it starts) can never pose as a result. Code running *inside* the child process can
write to it: the evaluator therefore never lets the child judge its own outputs.
"""

from __future__ import annotations

import os
import threading
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

MAX_MESSAGE_BYTES = 16 << 20  # results are small JSON; big data goes through files in the workdir
LOG_HEAD_BYTES = 32 << 10
LOG_TAIL_BYTES = 32 << 10


class ChannelMessage(BaseModel):
    """The child's single message."""

    kind: Literal["result", "error"]
    value: dict | None = None
    error: str | None = None
    confinement: list[str] = Field(default_factory=list)
    ready_at: float | None = None  # time.monotonic() in the child just before the entry ran


class ChannelReader(threading.Thread):
    """Reads the pipe to EOF in the background; `message()` validates what arrived."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.data = bytearray()
        self.overflow = False

    def run(self) -> None:
        while chunk := os.read(self.fd, 1 << 16):
            if len(self.data) + len(chunk) > MAX_MESSAGE_BYTES:
                self.overflow = True  # keep draining so the writer is not stuck, keep nothing
                continue
            self.data += chunk

    def message(self) -> tuple[ChannelMessage | None, str | None]:
        """(message, None) or (None, why there is no valid message)."""
        if self.overflow:
            return None, f"result message larger than {MAX_MESSAGE_BYTES} bytes"
        if not self.data:
            return None, None
        try:
            return ChannelMessage.model_validate_json(bytes(self.data)), None
        except ValidationError as exc:
            return None, f"invalid message on the result channel: {exc.errors()[0]['msg']}"


class LogCollector(threading.Thread):
    """Drains a pipe to EOF, keeping the first and last bytes and counting what it dropped."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def run(self) -> None:
        while chunk := os.read(self.fd, 1 << 16):
            room = LOG_HEAD_BYTES - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            self.tail += chunk
            if len(self.tail) > LOG_TAIL_BYTES:
                self.dropped += len(self.tail) - LOG_TAIL_BYTES
                del self.tail[: len(self.tail) - LOG_TAIL_BYTES]

    def text(self) -> str:
        middle = f"\n[... {self.dropped} bytes of log omitted ...]\n".encode() if self.dropped else b""
        return (bytes(self.head) + middle + bytes(self.tail)).decode(errors="replace")
