"""``git-remote``: the ``origin`` URL of the working directory's git repository.

A level is a host (the URL is ``https://HOST/acme/app.git``) or a whole remote URL
(``git@HOST:acme/app.git``, ``ssh://…``, ``https://…``). The level is written as the
run's ``.git/config`` (on the upper layer of the working directory, over the template):
the settings ``git init`` writes, ``[remote "origin"]`` and ``main`` tracking it. The
control is GitHub. Levels: the public forges of the US and Europe (GitHub, GitLab,
Bitbucket, Azure DevOps, Codeberg), of China (Gitee, GitCode, Alibaba's Codeup,
Tencent's CODING) and a company's own GitLab over SSH.

With ``--workdir``, the copy's ``.git/config`` is replaced by this one: its other
settings are not kept in the run (the directory on the host is never touched).
"""

from __future__ import annotations

import re

from promptwitness.probe.factors.base import Factor, FactorContext, check_host
from promptwitness.probe.spec import RunSpec

LEVELS = (
    "github.com",
    "gitlab.com",
    "bitbucket.org",
    "dev.azure.com",
    "codeberg.org",
    "gitee.com",
    "gitcode.com",
    "codeup.aliyun.com",
    "e.coding.net",
    "git@git.corp.example:platform/app.git",
)
# a remote URL: scheme://… or user@host:path; nothing that could break out of a config value
_URL_RE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://[\w.@:~/%+-]+|[\w.-]+@[\w.-]+:[\w.~/%+-]+)$")


def url(level: str) -> str:
    return level if ("://" in level or "@" in level) else f"https://{level}/acme/app.git"


def check(level: str) -> None:
    if "://" in level or "@" in level:
        if not _URL_RE.match(level):
            raise ValueError("not a plain remote URL (scheme://host/path or user@host:path)")
    else:
        check_host(level)


def gitconfig(level: str) -> bytes:
    return (
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
        "\tlogallrefupdates = true\n"
        f'[remote "origin"]\n\turl = {url(level)}\n'
        "\tfetch = +refs/heads/*:refs/remotes/origin/*\n"
        '[branch "main"]\n\tremote = origin\n\tmerge = refs/heads/main\n'
    ).encode()


def apply(spec: RunSpec, level: str, ctx: FactorContext) -> RunSpec:
    return spec.set_repo_file(".git/config", gitconfig(level))


FACTOR = Factor(
    "git-remote", "the origin URL of the working directory's git repository", LEVELS, apply, check
)
