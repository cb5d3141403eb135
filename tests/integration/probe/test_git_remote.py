"""The git-remote factor for real: a run's git sees the level as its origin, the rest of
the working directory's repository works as in the control, and the template (the lower
layer every run shares) is never written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from promptwitness.probe.factors import get
from promptwitness.probe.sandbox import RunSpec, Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def git(sb: Sandbox, spec: RunSpec) -> tuple[int, str]:
    r = sb.run(spec)
    return r.exit_code or 0, r.stdout.decode() + r.stderr.decode()


SCRIPT = "git remote get-url origin && git log --format=%s && git config branch.main.merge"


@pytest.mark.parametrize(
    "level, url",
    [
        ("gitee.com", "https://gitee.com/acme/app.git"),
        ("git@git.corp.example:platform/app.git", "git@git.corp.example:platform/app.git"),
    ],
)
def test_a_run_sees_its_origin(sandbox: Sandbox, level: str, url: str) -> None:
    spec = get("git-remote").apply(RunSpec(argv=("sh", "-c", SCRIPT)), level)
    code, out = git(sandbox, spec)
    # the origin, the template's commit (the repository is intact), main tracking origin
    assert (code, out.splitlines()) == (0, [url, "Initial commit", "refs/heads/main"]), out


def test_the_next_run_and_the_template_have_no_remote(sandbox: Sandbox) -> None:
    get("git-remote").apply(RunSpec(argv=("true",)), "gitee.com")
    sandbox.run(get("git-remote").apply(RunSpec(argv=("true",)), "gitee.com"))
    code, out = git(sandbox, RunSpec(argv=("sh", "-c", "git remote -v; echo done")))
    assert out.strip() == "done", out
    template = Path(sandbox.template(None))
    assert b"gitee" not in (template / ".git" / "config").read_bytes()
