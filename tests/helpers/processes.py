"""Starting real servers on loopback: a free port, and waiting for a hub to be healthy.

Shared by the fault tests, the benchmarks (`bench/hubproc.py`) and `make demo`
(`scripts/demo.py`), which all run `lianfang-hub` as a separate OS process.
"""

from __future__ import annotations

import socket
import subprocess
import time

import requests


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Poll `url`/healthz until it answers 200; RuntimeError if `proc` dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the hub exited early with status {proc.returncode}")
        try:
            if requests.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the hub did not answer {url}/healthz within {timeout_s:.0f} s")
