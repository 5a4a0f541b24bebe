"""`prevnet sandbox` as a subprocess, for tests/test_sandbox_*.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

START_TIMEOUT = 60.0  # a generous bound on a loaded machine; the loop returns when it answers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sandbox_command() -> list[str]:
    script = Path(sys.executable).parent / "prevnet"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot"]


class Sandbox:
    """A running `prevnet sandbox`, in a folder of its own (``cwd``)."""

    def __init__(self, cwd: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.cwd = cwd
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.out_path = cwd / "sandbox.out"
        self._out = self.out_path.open("wb")
        self.process = subprocess.Popen(
            [*sandbox_command(), "sandbox", "--port", str(self.port), *args],
            cwd=cwd, env=env if env is not None else dict(os.environ),
            stdout=self._out, stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.out_path.read_text(errors="replace")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base_url + path, timeout=30) as response:
            body = response.read()
            kind = response.headers.get_content_type()
        return json.loads(body) if kind == "application/json" else body.decode()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.base_url + path, data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def wait_until(self, check: Any, what: str, timeout: float = START_TIMEOUT) -> Any:
        """Poll ``check()`` until it returns something true (no fixed sleeps)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"prevnet sandbox exited ({self.process.returncode}) "
                                     f"while waiting for {what}:\n{self.output()}")
            try:
                result = check()
            except (OSError, urllib.error.URLError, ValueError):
                result = None
            if result:
                return result
            time.sleep(0.05)
        raise AssertionError(f"no {what} within {timeout} s:\n{self.output()}")

    def wait_answering(self) -> dict[str, Any]:
        return self.wait_until(lambda: self.get("/sandbox/api/info"), "answer on its port")

    def wait_bot_up(self) -> None:
        self.wait_until(lambda: "The bot is up." in self.output(), "bot polling")

    def child_pids(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def child_env(self) -> dict[str, str]:
        """The environment of the bot (`prevnet run`), read from /proc."""
        [child] = self.child_pids()
        raw = Path(f"/proc/{child}/environ").read_text()
        return dict(line.split("=", 1) for line in raw.split("\0") if "=" in line)

    def bot_api(self, method: str, **params: Any) -> Any:
        """Call the local Bot API as the bot would (with its token)."""
        token = self.child_env()["BOT_TOKEN"]
        request = urllib.request.Request(
            f"{self.base_url}/bot{token}/{method}", data=json.dumps(params).encode(),
            headers={"Content-Type": "application/json"}, method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["result"]

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"prevnet sandbox did not stop on {sig}:\n{self.output()}"
            ) from None
        finally:
            self._out.close()
        return code
