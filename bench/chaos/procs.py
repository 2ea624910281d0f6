"""Each stage replica as its own OS process (``roasloop run <stage>``), killed, stopped, restarted.

Every process gets its own HTTP port and log file; ``kill9`` sends SIGKILL to exactly the pid it
started (its own session, so nothing else is touched), ``stop`` is the graceful SIGTERM a deploy
sends, and ``start`` brings it straight back. Replicas of a stage share its consumer group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from streams.lab.dev.ports import free_port
from streams.lab.dev.process import die_with_parent, stop_process

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class StageProcess:
    stage: str
    env: dict[str, str]
    log_dir: Path
    replica: int = 0
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        log.write(f"\n--- start #{self.starts} at {time.time():.3f}\n".encode())
        log.flush()
        roasloop = Path(sys.executable).with_name("roasloop")
        command = [str(roasloop)] if roasloop.exists() else [sys.executable, "-m", "streams.cli"]
        self.process = subprocess.Popen(
            [*command, "run", self.stage, "--port", str(self.port)],
            cwd=ROOT, env={**self.env, "ROASLOOP_HTTP_PORT": str(self.port)},
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()

    @property
    def name(self) -> str:
        return f"{self.stage}#{self.replica}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.stage}-{self.replica}.log"

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.kills += 1

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM and wait (a deploy's stop; SIGKILL only after ``timeout``)."""
        process, self.process = self.process, None
        stop_process(process, timeout)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"
