"""`lianfang-hub` as a real OS process, so tests can SIGKILL it mid-work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers.processes import free_port, wait_healthy

# The installed console script (`python -m hub.cli` would miss the plug-in commands,
# which register on `hub.cli.main`, not on `__main__.main`).
HUB_CLI = [str(Path(sys.executable).with_name("lianfang-hub"))]
REPO = Path(__file__).resolve().parents[2]


def hub_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIANFANG_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def cli_args(data_dir: Path, db_url: str, *command: str) -> list[str]:
    return [*HUB_CLI, "--data-dir", str(data_dir), "--database-url", db_url, *command]


class HubProcess:
    """`lianfang-hub serve` on a free loopback port; `kill()` sends SIGKILL."""

    def __init__(self, data_dir: Path, db_url: str, log: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            cli_args(data_dir, db_url, "serve", "--port", str(self.port)),
            env=hub_env(**env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        try:
            wait_healthy(self.url, self.proc)
        except RuntimeError:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()
