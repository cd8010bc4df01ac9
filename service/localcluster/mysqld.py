"""Run a private MariaDB or MySQL server: its own datadir, port and socket, bound to 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pymysql
from tenacity import Retrying, retry_if_exception_type, retry_if_result, stop_after_delay, wait_fixed

INSTALL_HINT = (
    "no MariaDB/MySQL server binary found (looked for mariadbd and mysqld on PATH and in /usr/sbin). "
    "Install one, e.g. `sudo apt-get install -y mariadb-server` on Debian/Ubuntu."
)
SERVER_OPTIONS = [
    "--skip-name-resolve",
    "--innodb-buffer-pool-size=64M",
    "--innodb-log-file-size=32M",
    "--innodb-flush-log-at-trx-commit=1",
    "--max-connections=300",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_bin",
]


class MySQLNotFound(RuntimeError):
    pass


def find_server_binary() -> str:
    for name in ("mariadbd", "mysqld"):
        for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/local/sbin/{name}"):
            if candidate and os.access(candidate, os.X_OK):
                return candidate
    raise MySQLNotFound(INSTALL_HINT)


def is_mariadb(binary: str) -> bool:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    return "mariadb" in out.lower()


def _user_args() -> list[str]:
    return ["--user=root"] if os.geteuid() == 0 else []


class MySQLServer:
    def __init__(self, base_dir: Path, port: int, binary: str | None = None, prefix: tuple[str, ...] = ()):
        self.base_dir = Path(base_dir)
        self.datadir = self.base_dir / "data"
        self.socket = self.base_dir / "mysqld.sock"
        self.log_path = self.base_dir / "mysqld.log"
        self.port = port
        self.binary = binary or find_server_binary()
        self.prefix = tuple(prefix)  # e.g. ("ip", "netns", "exec", NS): run the server on another host
        self.process: subprocess.Popen | None = None
        self.pid: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def initialize(self) -> None:
        if (self.datadir / "mysql").is_dir():
            return
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.datadir.exists():
            shutil.rmtree(self.datadir)
        if is_mariadb(self.binary):
            installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
            if not installer:
                raise MySQLNotFound("mariadb-install-db not found; " + INSTALL_HINT)
            cmd = [
                installer,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--innodb-log-file-size=32M",
                f"--tmpdir={self._tmpdir()}",
                *_user_args(),
            ]
        else:
            cmd = [self.binary, "--no-defaults", "--initialize-insecure", f"--datadir={self.datadir}", *_user_args()]
        env = {**os.environ, "TMPDIR": str(self._tmpdir())}
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"initializing {self.datadir} failed:\n{result.stdout}\n{result.stderr}")

    def _tmpdir(self) -> Path:
        """A private temporary directory: nothing else on the machine can clean it under the server."""
        path = self.base_dir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start(self, wait: float = 60.0) -> MySQLServer:
        self.initialize()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    *self.prefix,
                    self.binary,
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    f"--port={self.port}",
                    "--bind-address=127.0.0.1",
                    f"--socket={self.socket}",
                    f"--pid-file={self.base_dir / 'mysqld.pid'}",
                    f"--tmpdir={self._tmpdir()}",
                    *SERVER_OPTIONS,
                    *_user_args(),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid = self.process.pid
        self.wait_ready(wait)
        return self

    def wait_ready(self, timeout: float) -> None:
        """Connect as root every 0.1 s until it works; the last connection error after `timeout` seconds,
        RuntimeError at once if the server exits."""
        Retrying(
            retry=retry_if_exception_type(pymysql.err.MySQLError),
            stop=stop_after_delay(timeout),
            wait=wait_fixed(0.1),
            reraise=True,
        )(self._connect_unless_exited)

    def _connect_unless_exited(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"mysqld exited with {self.process.returncode}; see {self.log_path}")
        self.root_connection().close()

    def root_connection(self, database: str | None = None):
        return pymysql.connect(
            unix_socket=str(self.socket),
            user="root",
            password="",
            database=database,
            connect_timeout=2,
            autocommit=True,
        )

    def bootstrap(self, database: str, user: str, password: str) -> None:
        """Create the database and an app user reachable over TCP from 127.0.0.1 (idempotent)."""
        conn = self.root_connection()
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
                for host in ("127.0.0.1", "localhost"):
                    cur.execute(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY %s", (password,))
                    cur.execute(f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{user}'@'{host}'")
        finally:
            conn.close()

    def stop(self, timeout: float = 30.0) -> None:
        self._signal(signal.SIGTERM)
        if not self._wait_exit(timeout):
            self.kill()

    def kill(self) -> None:
        self._signal(signal.SIGKILL)
        self._wait_exit(10)

    def _signal(self, sig) -> None:
        pid = self.pid or self._pid_from_file()
        if pid:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def _wait_exit(self, timeout: float) -> bool:
        if self.process is not None:
            try:
                self.process.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        pid = self.pid or self._pid_from_file()
        if not pid:
            return True
        return Retrying(
            retry=retry_if_result(lambda gone: not gone),
            stop=stop_after_delay(timeout),
            wait=wait_fixed(0.1),
            retry_error_callback=lambda state: False,
        )(_gone, pid)

    def _pid_from_file(self) -> int | None:
        try:
            return int((self.base_dir / "mysqld.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
