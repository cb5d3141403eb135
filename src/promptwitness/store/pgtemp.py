"""A throwaway PostgreSQL cluster on a unix socket (for tests, benchmarks, trying it out).

``TempCluster`` runs the system's own PostgreSQL binaries (``initdb``, ``pg_ctl``; on
Debian the ``postgresql`` package, which ``scripts/setup.sh`` installs): a new cluster
in a temporary directory, listening on no TCP port at all, only on a unix socket in that
directory, with ``trust`` authentication for its own socket. ``stop()`` stops it and
deletes everything. PostgreSQL refuses to run as root: as root the cluster runs as the
``postgres`` system user (which the Debian package creates).

    with TempCluster() as pg:
        url = pg.create_database("fleet")   # postgresql://postgres@/fleet?host=/tmp/...
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from promptwitness.errors import StoreError

SUPERUSER = "postgres"
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def bindir() -> Path:
    """The directory of the newest installed server's ``initdb`` and ``pg_ctl``."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p)],
    )
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    if which:
        return Path(os.path.realpath(which)).parent
    raise StoreError(
        "no PostgreSQL server binaries (initdb, pg_ctl) on this machine: install them "
        "(Debian: apt-get install postgresql; scripts/setup.sh does)"
    )


class TempCluster:
    """A PostgreSQL cluster of its own, in a temporary directory, on a unix socket."""

    def __init__(self, *, durable: bool = False, max_connections: int = 100) -> None:
        """``durable=False`` turns ``fsync`` off (tests: fast, nothing to keep);
        ``durable=True`` keeps PostgreSQL's defaults (benchmarks: what a server does)."""
        self.durable = durable
        self.max_connections = max_connections
        self.dir: Path | None = None
        self._as: list[str] = []
        self._bin = bindir()

    @property
    def socket_dir(self) -> Path:
        assert self.dir is not None, "not started"
        return self.dir / "sock"

    @property
    def data(self) -> Path:
        assert self.dir is not None, "not started"
        return self.dir / "data"

    def _run(self, *argv: str) -> str:
        try:
            done = subprocess.run(
                [*self._as, *argv],
                check=True,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=120,
            )
        except subprocess.CalledProcessError as exc:
            raise StoreError(
                f"{Path(argv[0]).name} failed ({exc.returncode}): "
                f"{(exc.stderr or exc.stdout).strip()[-800:]}"
            ) from exc
        return done.stdout

    def start(self) -> TempCluster:
        self.dir = Path(tempfile.mkdtemp(prefix="pw-pg-"))
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam(SUPERUSER)
            except KeyError:
                raise StoreError(
                    "PostgreSQL does not run as root and there is no 'postgres' user to run "
                    "it as (install the postgresql package, which creates it)"
                ) from None
            for p in (self.dir, self.socket_dir):
                os.chown(p, user.pw_uid, user.pw_gid)
            self._as = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}"]
            self._as += ["--clear-groups", "--"]
        self._run(
            str(self._bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        conf = [
            "listen_addresses = ''",
            f"unix_socket_directories = '{self.socket_dir}'",
            f"max_connections = {self.max_connections}",
            "shared_buffers = 128MB",
        ]
        if not self.durable:
            conf += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write("\n# promptwitness TempCluster\n" + "\n".join(conf) + "\n")
        self._pg_ctl("start")
        return self

    def restart(self) -> None:
        """Stop the server (ending every connection) and start it again."""
        self._pg_ctl("-m", "fast", "restart")

    def _pg_ctl(self, *argv: str) -> None:
        log = str(self.dir / "server.log") if self.dir is not None else "/dev/null"
        self._run(
            str(self._bin / "pg_ctl"), "-D", str(self.data), "-l", log, "-w", "-t", "60", *argv
        )

    def version(self) -> str:
        """The server's version line (``postgres --version``)."""
        return self._run(str(self._bin / "postgres"), "--version").strip()

    def url(self, database: str = SUPERUSER) -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a plain database name: {name!r}")
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # a name checked above
        return self.url(name)

    def stop(self) -> None:
        if self.dir is None:
            return
        try:
            if (self.data / "postmaster.pid").exists():
                self._pg_ctl("-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> TempCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
