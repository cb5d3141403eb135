"""Reading a traced run's strace output (discover.trace, pure parts).

The lines are written as ``strace -f -xx -yy`` writes them for a traced run (the
options of ``probe.sandbox.STRACE_OPTIONS``): every string in ``\\xHH`` form, every
descriptor with its path (``3<\\x2f...>``), ``AT_FDCWD<cwd>``, the pid first. The
helpers below encode plain text that way; the first lines of a trace are the sandbox's
own (bubblewrap's, recorded from a real run) and must never show up as the command's.
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.discover.model import OBSERVED_KINDS, Observed
from promptwitness.discover.trace import (
    MARK,
    TRACE_DIR,
    ExecutableInfo,
    classify_runtime,
    dns_question,
    inspect_executable,
    parse_strace,
    parse_trace,
)

ENOENT = "-1 ENOENT (No such file or directory)"
CWD = "/tmp/pw/repo"


def h(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return "".join(f"\\x{b:02x}" for b in data)


def s(text: str | bytes) -> str:
    return f'"{h(text)}"'


def fd(n: int | str, path: str) -> str:
    return f"{n}<{h(path)}>"


def at(cwd: str = CWD) -> str:
    return f"AT_FDCWD<{h(cwd)}>"


BWRAP, INIT, CMD = 14459, 14460, 14461
# bubblewrap's own start (as recorded from a run: its execve, library loads, the
# namespaces' setup, the root's files), then its execvp's PATH search for the command
SETUP = [
    f"{BWRAP} execve({s('/usr/bin/bwrap')}, [{s('/usr/bin/bwrap')}, {s('--args')}, {s('10')},"
    f" {s('--')}, {s('sh')}, {s('-c')}, {s('cat /etc/os-release')}], 0x7ffd4c8bf258"
    " /* 9 vars */) = 0",
    f"{BWRAP} access({s('/etc/ld.so.preload')}, R_OK) = {ENOENT}",
    f"{BWRAP} openat({at('/work/main')}, {s('/etc/ld.so.cache')}, O_RDONLY|O_CLOEXEC) = "
    f"{fd(3, '/etc/ld.so.cache')}",
    f"{BWRAP} clone(child_stack=NULL, flags=CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUTS|"
    f"CLONE_NEWIPC|CLONE_NEWUSER|CLONE_NEWPID|SIGCHLD) = {INIT}",
    f"{BWRAP} openat({fd(3, '/proc')}, {s('14460/ns')}, O_RDONLY|O_PATH) = "
    f"{fd(12, '/proc/14460/ns')}",
    f"{INIT} openat({fd(6, '/proc/14460')}, {s('uid_map')}, O_RDWR|O_CLOEXEC) = "
    f"{fd(7, '/proc/14460/uid_map')}",
    f"{INIT} newfstatat({at('/')}, {s('/newroot/opt/corp')}, 0x7ffc0e1441e0, 0) = {ENOENT}",
    f"{INIT} creat({s('/newroot/.dockerenv')}, 0644) = {fd(6, '/newroot/.dockerenv')}",
    f"{INIT} chdir({s(CWD)}) = 0",
    f"{INIT} clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD,"
    " child_tidptr=0x7f99cadb7490) = 2",
    f"{CMD} execve({s('/usr/local/sbin/sh')}, [{s('sh')}, {s('-c')}, {s('cat /etc/os-release')}]"
    f", 0x7ffd /* 9 vars */ <unfinished ...>",
    f"{CMD} <... execve resumed>)             = {ENOENT}",
    f"{CMD} execve({s('/usr/bin/sh')}, [{s('sh')}, {s('-c')}, {s('cat /etc/os-release')}],"
    " 0x7ffd /* 9 vars */ <unfinished ...>",
    f"{INIT} openat({fd(3, '/proc')}, {s('self/fd')}, O_RDONLY|O_DIRECTORY) = "
    f"{fd(5, '/proc/14460/fd')}",
    f"{CMD} <... execve resumed>)             = 0",
]


def run(*lines: str) -> list[Observed]:
    return parse_strace([*SETUP, *lines])


def find(observed: list[Observed], kind: str, name: str) -> list[Observed]:
    return [o for o in observed if o.kind == kind and o.name == name]


def mark(tid: int, what: str, syscall: str = "faccessat") -> str:
    if syscall == "access":
        return f"{tid} access({s(MARK + what)}, F_OK) = {ENOENT}"
    return f"{tid} faccessat({at()}, {s(MARK + what)}, F_OK) = {ENOENT}"


def env(tid: int, how: str, name: str, present: bool | None, syscall: str = "faccessat") -> str:
    flag = "-" if present is None else ("1" if present else "0")
    return mark(tid, f"env/{how}/{flag}/{name.encode().hex() or '-'}", syscall)


# --- the sandbox's own setup --------------------------------------------------------


def test_only_what_follows_the_commands_execve_is_the_commands() -> None:
    late = f"{INIT} openat({at('/')}, {s('/etc/bwrap-late')}, O_RDONLY) = {ENOENT}"
    got = run(
        late,
        f"{CMD} openat({at()}, {s('/etc/os-release')}, O_RDONLY) = {fd(3, '/usr/lib/os-release')}",
    )
    names = {o.name for o in got}
    assert names == {"/usr/bin/sh", "/etc/os-release"}, names
    assert find(got, "file", "/usr/bin/sh") == [Observed("file", "/usr/bin/sh", True, "execve")]
    # bwrap's library loads, its /proc and /newroot work and its PATH search are not reads
    for setup_path in (
        "/etc/ld.so.cache",
        "/newroot/.dockerenv",
        "/usr/local/sbin/sh",
        "/proc/14460/uid_map",
        "/etc/bwrap-late",
    ):
        assert setup_path not in names


def test_no_execve_of_the_command_means_nothing_observed() -> None:
    assert parse_strace(SETUP[:-1]) == []  # the command's execve never completed
    parsed = parse_trace(SETUP[:-1])
    assert not parsed.started and parsed.lines == len(SETUP) - 1


def test_without_setup_skipping_every_process_counts() -> None:
    got = parse_strace([f"7 openat({at()}, {s('/etc/x')}, O_RDONLY) = {ENOENT}"], skip_setup=False)
    assert got == [Observed("file", "/etc/x", False, "openat")]


def test_later_processes_of_the_command_are_followed() -> None:
    got = run(
        f"{CMD} vfork( <unfinished ...>",
        f"14462 execve({s('/usr/bin/cat')}, [{s('cat')}, {s('/etc/os-release')}],"
        " 0x55 /* 9 vars */ <unfinished ...>",
        f"{CMD} <... vfork resumed>)              = 3",
        "14462 <... execve resumed>)             = 0",
        f"14462 openat({at()}, {s('/etc/os-release')}, O_RDONLY) = {fd(3, '/usr/lib/os-release')}",
        "14462 +++ exited with 0 +++",
    )
    assert find(got, "file", "/usr/bin/cat") == [Observed("file", "/usr/bin/cat", True, "execve")]
    assert find(got, "file", "/etc/os-release")[0].present is True


# --- paths -------------------------------------------------------------------------------


def test_absent_paths_are_recorded_as_absent() -> None:
    got = run(
        f"{CMD} newfstatat({at()}, {s('/etc/corp-marker')}, 0x7ffe, 0) = {ENOENT}",
        f"{CMD} openat({at()}, {s('/etc/corp/agent.conf')}, O_RDONLY|O_CLOEXEC) = {ENOENT}",
        f"{CMD} access({s('/opt/corp/.enrolled')}, F_OK) = {ENOENT}",
        f"{CMD} statx({at()}, {s('/etc/x/y')}, AT_STATX_SYNC_AS_STAT, STATX_ALL, 0x7f)"
        " = -1 ENOTDIR (Not a directory)",
        f"{CMD} readlink({s('/etc/alternatives/corp')}, 0x7ffc, 1023) = {ENOENT}",
        f"{CMD} openat({at()}, {s('/etc/shadow')}, O_RDONLY) = -1 EACCES (Permission denied)",
    )
    assert find(got, "path", "/etc/corp-marker") == [
        Observed("path", "/etc/corp-marker", False, "stat")
    ]
    assert find(got, "file", "/etc/corp/agent.conf") == [
        Observed("file", "/etc/corp/agent.conf", False, "openat")
    ]
    assert find(got, "path", "/opt/corp/.enrolled")[0].how == "access"
    assert find(got, "path", "/etc/x/y")[0].present is False
    assert find(got, "path", "/etc/alternatives/corp")[0].how == "readlink"
    assert find(got, "file", "/etc/shadow")[0].present is None  # refused: unknown


def test_fstat_of_a_descriptor_is_not_a_path() -> None:
    got = run(
        f'{CMD} newfstatat({fd(3, "/etc/ld.so.cache")}, "", {{st_mode=S_IFREG|0644, '
        "st_size=36059, ...}, AT_EMPTY_PATH) = 0"
    )
    assert find(got, "path", "/etc/ld.so.cache") == []


def test_relative_paths_resolve_against_the_working_directory() -> None:
    got = run(
        f"{CMD} openat({at()}, {s('package.json')}, O_RDONLY) = {ENOENT}",
        f"{CMD} openat({at()}, {s('../repo/./.env')}, O_RDONLY) = {ENOENT}",
        f"{CMD} newfstatat({fd(5, '/home/dev')}, {s('.npmrc')}, 0x7ffe, 0) = {ENOENT}",
        f"{CMD} chdir({s('/home/dev')}) = 0",
        f"{CMD} access({s('.config/corp')}, R_OK) = {ENOENT}",
        f"{CMD} chdir({s('sub')}) = {ENOENT}",
        f"{CMD} readlink({s('link')}, 0x7ffc, 1023) = {ENOENT}",
    )
    names = [o.name for o in got]
    for expected in (
        "/tmp/pw/repo/package.json",
        "/tmp/pw/repo/.env",
        "/home/dev/.npmrc",
        "/home/dev/.config/corp",
        "/home/dev/sub",
        "/home/dev/link",
    ):
        assert expected in names, names


def test_directory_listings_count_once_per_listing() -> None:
    cfg = "/home/dev/.config"
    got = run(
        f"{CMD} openat({at()}, {s(cfg)}, O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = {fd(3, cfg)}",
        f"{CMD} getdents64({fd(3, cfg)}, 0x55b0d13ed2a0 /* 4 entries */, 32768) = 112",
        f"{CMD} getdents64({fd(3, cfg)}, 0x55b0d13ed2a0 /* 2 entries */, 32768) = 48",
        f"{CMD} getdents64({fd(3, cfg)}, 0x55b0d13ed2a0 /* 0 entries */, 32768) = 0",
        f"{CMD} getdents64({fd(3, cfg)}, 0x55b0d13ed2a0 /* 3 entries */, 32768) = 80",
    )
    assert find(got, "path", cfg) == [
        Observed("path", cfg, True, "openat"),
        Observed("path", cfg, True, "getdents", count=2),
    ]


def test_writes_created_files_and_execs() -> None:
    got = run(
        f"{CMD} openat({at()}, {s('/tmp/out.log')}, O_WRONLY|O_CREAT|O_TRUNC, 0666) = "
        f"{fd(3, '/tmp/out.log')}",
        f"{CMD} openat({at()}, {s('/tmp/lock')}, O_WRONLY|O_CREAT|O_EXCL, 0600) = -1 EEXIST "
        "(File exists)",
        f"{CMD} execve({s('/usr/local/bin/git')}, [{s('git')}], 0x1 /* 9 vars */) = {ENOENT}",
    )
    assert find(got, "file", "/tmp/out.log")[0].present is None  # created or not: unknown
    assert find(got, "file", "/tmp/lock")[0].present is True
    assert find(got, "path", "/usr/local/bin/git") == [
        Observed("path", "/usr/local/bin/git", False, "execve")
    ]


def test_unfinished_calls_are_joined_with_their_resumption() -> None:
    got = run(
        f"{CMD} openat({at()}, {s('/etc/corp.json')}, O_RDONLY|O_CLOEXEC <unfinished ...>",
        f"{INIT} openat({at('/')}, {s('/etc/interleaved')}, O_RDONLY) = {ENOENT}",
        f"{CMD} <... openat resumed>)            = {ENOENT}",
        f"{CMD} <... read resumed>)            = 4",  # no start: skipped
    )
    assert find(got, "file", "/etc/corp.json") == [
        Observed("file", "/etc/corp.json", False, "openat")
    ]
    assert find(got, "file", "/etc/interleaved") == []


def test_counts_aggregate_in_first_seen_order() -> None:
    line = f"{CMD} openat({at()}, {s('/etc/hosts')}, O_RDONLY) = {fd(3, '/etc/hosts')}"
    got = run(line, f"{CMD} access({s('/etc/a')}, F_OK) = {ENOENT}", line, line)
    assert [(o.name, o.count) for o in got][1:] == [("/etc/hosts", 3), ("/etc/a", 1)]


# --- the hooks: never reads of their own ------------------------------------------------


def test_the_hooks_files_are_not_reads() -> None:
    so = f"{TRACE_DIR}/getenv.so"
    got = run(
        f"{CMD} openat({at()}, {s(so)}, O_RDONLY|O_CLOEXEC) = {fd(3, so)}",
        f"{CMD} statx({at()}, {s(TRACE_DIR + '/preload.cjs')}, AT_STATX_SYNC_AS_STAT, "
        "STATX_ALL, {stx_mode=S_IFREG|0444, ...}) = 0",
        # Node resolving the preload's real path stats /run, then /run/pw-trace
        f"{CMD} statx({at()}, {s('/run')}, AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW, "
        "STATX_ALL, {stx_mode=S_IFDIR|0755, ...}) = 0",
        f"{CMD} statx({at()}, {s(TRACE_DIR)}, AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW, "
        "STATX_ALL, {stx_mode=S_IFDIR|0755, ...}) = 0",
        f"{CMD} newfstatat({at()}, {s(TRACE_DIR + '/py/os.py')}, 0x7ffe, 0) = {ENOENT}",
        mark(CMD, "hello/native"),
        f"{CMD} openat({at()}, {s('/etc/os-release')}, O_RDONLY) = {fd(3, '/etc/os-release')}",
        # a stat of /run of the command's own, not next to a hook's path, is a read
        f"{CMD} newfstatat({at()}, {s('/run')}, {{st_mode=S_IFDIR|0755, ...}}, 0) = 0",
        f"{CMD} newfstatat({at()}, {s('/etc')}, {{st_mode=S_IFDIR|0755, ...}}, 0) = 0",
    )
    assert not any(o.name.startswith(TRACE_DIR) for o in got), got
    assert find(got, "path", "/run") == [Observed("path", "/run", True, "stat")]
    parsed = parse_trace([*SETUP, f"{CMD} openat({at()}, {s(so)}, O_RDONLY) = {fd(3, so)}"])
    assert so not in parsed.files_loaded


def test_nodes_package_scope_walk_for_the_preload_is_not_a_read() -> None:
    """Resolving ``--require <trace dir>/preload.cjs``, Node first looks for a
    package.json from the working directory up: the hook's doing. The same lookups
    made for the program's own modules are reads."""
    walk = [
        f"{CMD} openat({at()}, {s(p)}, O_RDONLY|O_CLOEXEC) = {ENOENT}"
        for p in ("/tmp/pw/repo/package.json", "/tmp/pw/package.json", "/package.json")
    ]
    preload = (
        f"{CMD} statx({at()}, {s(TRACE_DIR + '/preload.cjs')}, AT_STATX_SYNC_AS_STAT, "
        "STATX_ALL, {stx_mode=S_IFREG|0444, ...}) = 0"
    )
    got = run(
        *walk,
        preload,
        *walk,
        f"{CMD} openat({at()}, {s('/tmp/pw/repo/main.js')}, O_RDONLY) = {ENOENT}",
    )
    assert [(o.name, o.count) for o in got if o.name.endswith("package.json")] == [
        ("/tmp/pw/repo/package.json", 1),
        ("/tmp/pw/package.json", 1),
        ("/package.json", 1),
    ]


# --- environment reads -----------------------------------------------------------------


def test_environment_reads_from_each_hook() -> None:
    got = run(
        mark(CMD, "hello/native"),
        env(CMD, "getenv", "CORP_REGION", True),
        env(CMD, "secure_getenv", "CORP_TOKEN", False),
        env(CMD, "os.environ", "CORP_REGION", True, "access"),
        env(CMD, "os.getenv", "NOPE", False, "access"),
        env(CMD, "os.environ.keys", "*", None, "access"),
        env(CMD, "getenv", "", False),  # getenv(""): no name, not recorded
        env(CMD, "getenv", "CORP_REGION", True),
    )
    envs = [(o.name, o.present, o.how, o.count) for o in got if o.kind == "env"]
    assert envs == [
        ("CORP_REGION", True, "getenv", 2),
        ("CORP_TOKEN", False, "secure_getenv", 1),
        ("CORP_REGION", True, "os.environ", 1),
        ("NOPE", False, "os.getenv", 1),
        ("*", None, "os.environ.keys", 1),
    ]


def test_a_node_read_is_one_read_not_three() -> None:
    """process.env.X reaches node's getenv before the Proxy reports it, and twice after
    (V8 checks the Proxy's answer against the target): one read, seen by the hook."""
    got = run(
        env(CMD, "getenv", "CORP_REGION", True),
        env(CMD, "process.env", "CORP_REGION", True, "access"),
        env(CMD, "getenv", "CORP_REGION", True),
        env(CMD, "getenv", "CORP_REGION", True),
        env(CMD, "getenv", "HOME", True),  # another name: a read of its own
        env(CMD, "getenv", "CORP_REGION", True),  # after another read: a read again
    )
    envs = [(o.name, o.how, o.count) for o in got if o.kind == "env"]
    assert envs == [
        ("CORP_REGION", "process.env", 1),
        ("HOME", "getenv", 1),
        ("CORP_REGION", "getenv", 1),
    ]


def test_listings_and_child_process_copies_are_not_per_variable_reads() -> None:
    got = run(
        env(CMD, "process.env.keys", "*", None, "access"),
        env(CMD, "getenv", "USER", True),
        env(CMD, "getenv", "USER", True),
        env(CMD, "getenv", "HOME", True),
        env(CMD, "process.env.internal", "USER", True, "access"),
        env(CMD, "getenv", "USER", True),
        env(CMD, "process.env.internal", "", False, "access"),  # the listing's end
        env(CMD, "getenv", "TZ", False),  # a read after the listing: recorded
        env(CMD, "process.env.internal", "*", None, "access"),  # child_process copying
        env(CMD, "getenv", "PATH", True),
        env(CMD, "process.env.internal", "PATH", True, "access"),
        env(CMD, "process.env.internal", "", False, "access"),
    )
    envs = [(o.name, o.present, o.how) for o in got if o.kind == "env"]
    assert envs == [("*", None, "process.env.keys"), ("TZ", False, "getenv")]


def test_hooks_say_which_runtime_ran() -> None:
    parsed = parse_trace(
        [
            *SETUP,
            mark(CMD, "hello/native"),
            f"{CMD} execve({s('/usr/bin/node')}, [{s('node')}, {s('x.js')}], 0x1 /* 9 vars */) = 0",
            mark(CMD, "hello/native"),
            mark(CMD, "hello/node", "access"),
            # a thread of node (its worker pool): the same program
            f"{CMD} clone(child_stack=0x7f, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|"
            "CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID,"
            " parent_tid=[7], tls=0x7f, child_tidptr=0x7f) = 7",
            f"14470 openat({at()}, {s('lib.js')}, O_RDONLY|O_CLOEXEC) = {fd(20, CWD + '/lib.js')}",
        ]
    )
    assert [(p, sorted(h)) for p, _, h in parsed.execs] == [
        ("/usr/bin/sh", ["native"]),
        ("/usr/bin/node", ["native", "node"]),
    ]
    assert parsed.execs[1][1] == ("node", "x.js")
    assert parsed.files_loaded == ("/usr/bin/sh", "/usr/bin/node", CWD + "/lib.js")


# --- names: DNS, host, user, interfaces, sockets -------------------------------------------


def dns_query(name: str, qtype: int = 1, ident: int = 0x52D6) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + q + struct.pack(">HH", qtype, 1)


def test_dns_questions_are_decoded_from_the_buffers() -> None:
    udp = "3<UDP:[127.0.0.1:32974->127.0.0.1:53]>"
    a, aaaa = dns_query("telemetry.example.cn"), dns_query("telemetry.example.cn", 28)
    tcp = dns_query("tcp.example.cn")
    response = a[:2] + bytes([0x81, 0x80]) + a[4:]
    got = run(
        f"{CMD} sendto({udp}, {s(a)}, {len(a)}, MSG_NOSIGNAL, NULL, 0) = {len(a)}",
        f"{CMD} sendmmsg({udp}, [{{msg_hdr={{msg_name=NULL, msg_namelen=0, msg_iov=[{{iov_base="
        f"{s(a)}, iov_len={len(a)}}}], msg_iovlen=1, msg_controllen=0, msg_flags=0}}, "
        f"msg_len={len(a)}}}, {{msg_hdr={{msg_name=NULL, msg_namelen=0, msg_iov=[{{iov_base="
        f"{s(aaaa)}, iov_len={len(aaaa)}}}], msg_iovlen=1, msg_controllen=0, msg_flags=0}}, "
        f"msg_len={len(aaaa)}}}], 2, MSG_NOSIGNAL) = 2",
        # unconnected, the port in the address
        f"{CMD} sendto(4<UDP:[12345]>, {s(dns_query('api.corp.example'))}, 34, 0, "
        f"{{sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr({s('127.0.0.1')})}}, 16)"
        " = 34",
        # DNS over TCP: a length first
        f"{CMD} sendmsg(5<TCP:[127.0.0.1:4000->127.0.0.1:53]>, {{msg_name=NULL, msg_namelen=0,"
        f" msg_iov=[{{iov_base={s(struct.pack('>H', len(tcp)))}, iov_len=2}}, {{iov_base="
        f"{s(tcp)}, iov_len={len(tcp)}}}], msg_iovlen=2, msg_controllen=0, msg_flags=0}}, "
        "MSG_NOSIGNAL) = 34",
        # not to port 53; a response: no question
        f"{CMD} sendto(6<UDP:[127.0.0.1:1->127.0.0.1:5353]>, {s(a)}, {len(a)}, 0, NULL, 0) = 38",
        f"{CMD} sendto({udp}, {s(response)}, {len(a)}, 0, NULL, 0) = 38",
    )
    dns = [(o.name, o.how, o.count) for o in got if o.kind == "dns"]
    assert dns == [
        ("telemetry.example.cn", "sendto", 1),
        ("telemetry.example.cn", "sendmmsg", 2),
        ("api.corp.example", "sendto", 1),
        ("tcp.example.cn", "sendmsg", 1),
    ]


def test_dns_question_decoder() -> None:
    assert dns_question(dns_query("a.b.example", 28)) == [("a.b.example", 28)]
    assert dns_question(b"\x00" * 11) == []
    assert dns_question(dns_query("x.cn")[:-3]) == []
    pointer = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c"
    assert dns_question(pointer) == []


def test_host_user_interfaces_and_sockets() -> None:
    got = run(
        f"{CMD} uname({{sysname={s('Linux')}, nodename={s('devbox')}, ...}}) = 0",
        f"{CMD} openat({at()}, {s('/etc/hostname')}, O_RDONLY) = {fd(3, '/etc/hostname')}",
        f"{CMD} openat({at()}, {s('/proc/sys/kernel/hostname')}, O_RDONLY) = "
        f"{fd(3, '/proc/sys/kernel/hostname')}",
        f"{CMD} getuid()                          = 1000",
        f"{CMD} geteuid()                         = 1000",
        f"{CMD} openat({at()}, {s('/etc/passwd')}, O_RDONLY|O_CLOEXEC) = {fd(3, '/etc/passwd')}",
        f"{CMD} socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE) = 3<NETLINK:[123]>",
        f"{CMD} sendto(3<NETLINK:[ROUTE:14461]>, [{{nlmsg_len=20, nlmsg_type=RTM_GETLINK, "
        "nlmsg_flags=NLM_F_REQUEST|NLM_F_DUMP, nlmsg_seq=1, nlmsg_pid=0}, {ifi_family=AF_UNSPEC,"
        " ...}], 20, 0, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 20",
        f"{CMD} ioctl(4<UDP:[9]>, SIOCGIFCONF, {{ifc_len=40, ifc_buf=NULL}}) = 0",
        f"{CMD} ioctl(1<{h('pipe:[427802]')}>, TCGETS, 0x7ffc703e53a0) = -1 ENOTTY "
        "(Inappropriate ioctl for device)",
        f"{CMD} openat({at()}, {s('/sys/class/net/eth0/address')}, O_RDONLY) = {ENOENT}",
        f"{CMD} connect(5<TCP:[1]>, {{sa_family=AF_INET, sin_port=htons(443), "
        f"sin_addr=inet_addr({s('10.1.2.3')})}}, 16) = -1 ENETUNREACH (Network is unreachable)",
        f"{CMD} connect(5<TCP:[2]>, {{sa_family=AF_INET6, sin6_port=htons(8080), "
        f"sin6_flowinfo=htonl(0), inet_pton(AF_INET6, {s('::1')}, &sin6_addr), "
        "sin6_scope_id=0}, 28) = -1 EINPROGRESS (Operation now in progress)",
        f"{CMD} connect(6<UNIX-STREAM:[3]>, {{sa_family=AF_UNIX, "
        f"sun_path={s('/var/run/nscd/socket')}}}, 110) = {ENOENT}",
        f"{CMD} connect(6<UNIX-STREAM:[4]>, {{sa_family=AF_UNIX, "
        f"sun_path=@{s('corp-agent')}}}, 13) = -1 ECONNREFUSED (Connection refused)",
    )
    kinds = {(o.kind, o.name, o.present, o.how) for o in got}
    for expected in (
        ("hostname", "", True, "uname"),
        ("hostname", "/etc/hostname", True, "openat"),
        ("hostname", "/proc/sys/kernel/hostname", True, "openat"),
        ("user", "", True, "getuid"),
        ("user", "", True, "geteuid"),
        ("user", "/etc/passwd", True, "openat"),
        ("netif", "", None, "netlink:RTM_GETLINK"),
        ("netif", "", True, "ioctl:SIOCGIFCONF"),
        ("netif", "/sys/class/net/eth0/address", False, "openat"),
        ("socket", "10.1.2.3:443", False, "connect"),
        ("socket", "[::1]:8080", True, "connect"),
        ("socket", "unix:/var/run/nscd/socket", False, "connect"),
        ("socket", "unix:@corp-agent", False, "connect"),
    ):
        assert expected in kinds, (expected, sorted(kinds))
    assert not [o for o in got if o.how == "ioctl:TCGETS"]
    assert all(o.kind in OBSERVED_KINDS for o in got)


def test_zone_and_locale_reads_are_named() -> None:
    got = run(
        f"{CMD} openat({at()}, {s('/etc/localtime')}, O_RDONLY|O_CLOEXEC) = "
        f"{fd(3, '/usr/share/zoneinfo/Asia/Shanghai')}",
        f"{CMD} openat({at()}, {s('/usr/share/zoneinfo/Asia/Tokyo')}, O_RDONLY) = "
        f"{fd(3, '/usr/share/zoneinfo/Asia/Tokyo')}",
        f"{CMD} openat({at()}, {s('/etc/default/locale')}, O_RDONLY) = {ENOENT}",
    )
    assert find(got, "zone", "/etc/localtime")[0].present is True
    assert find(got, "zone", "/usr/share/zoneinfo/Asia/Tokyo")
    assert find(got, "locale", "/etc/default/locale")[0].present is False


# --- code loaded -------------------------------------------------------------------------


def test_files_loaded_are_the_code_the_run_reached() -> None:
    mod = "/agent/node_modules/x/index.js"
    parsed = parse_trace(
        [
            *SETUP,
            f"{CMD} openat({at()}, {s('/lib/x86_64-linux-gnu/libc.so.6')}, O_RDONLY|O_CLOEXEC) = "
            f"{fd(3, '/usr/lib/x86_64-linux-gnu/libc.so.6')}",
            f"{CMD} openat({at()}, {s('/agent/cli.mjs')}, O_RDONLY|O_CLOEXEC) = "
            f"{fd(3, '/agent/cli.mjs')}",
            f"{CMD} openat({at()}, {s('/agent/node_modules/x')}, O_RDONLY|O_DIRECTORY) = "
            f"{fd(4, '/agent/node_modules/x')}",
            f"{CMD} openat({at()}, {s(mod)}, O_RDONLY|O_CLOEXEC) = {fd(4, mod)}",
            f"{CMD} openat({at()}, {s('/agent/missing.js')}, O_RDONLY) = {ENOENT}",
            f"{CMD} openat({at()}, {s('/tmp/gen.js')}, O_WRONLY|O_CREAT, 0644) = "
            f"{fd(5, '/tmp/gen.js')}",
            f"{CMD} openat({at()}, {s('/agent/addon.node')}, O_RDONLY|O_CLOEXEC) = "
            f"{fd(6, '/agent/addon.node')}",
            f"{CMD} openat({at()}, {s('/usr/lib/python3.11/__pycache__/os.cpython-311.pyc')}, "
            f"O_RDONLY|O_CLOEXEC) = {fd(7, '/usr/lib/python3.11/__pycache__/os.cpython-311.pyc')}",
            f"{CMD} openat({at()}, {s('/agent/data.json')}, O_RDONLY) = "
            f"{fd(8, '/agent/data.json')}",
            f"{CMD} openat({at()}, {s('/agent/cli.mjs')}, O_RDONLY|O_CLOEXEC) = "
            f"{fd(3, '/agent/cli.mjs')}",
        ]
    )
    assert parsed.files_loaded == (
        "/usr/bin/sh",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/agent/cli.mjs",
        mod,
        "/agent/addon.node",
        "/usr/lib/python3.11/__pycache__/os.cpython-311.pyc",
    )


# --- runtimes ----------------------------------------------------------------------------


def elf(interp: bool) -> bytes:
    """A minimal ELF64 header with one program header: PT_INTERP (3) or PT_LOAD (1)."""
    header = b"\x7fELF" + bytes([2, 1, 1]) + b"\0" * 9
    header += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x400000, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 3 if interp else 1, 4, 0, 0, 0, 0, 0, 1)
    return header + phdr + b"\0" * 64


def test_inspect_executable() -> None:
    assert inspect_executable(elf(True)) == ExecutableInfo(elf=True)
    assert inspect_executable(elf(False)) == ExecutableInfo(elf=True, static=True)
    assert inspect_executable(elf(False) + b"\xff Go buildinf:\x08\x02").go
    assert inspect_executable(elf(True) + b"x---- Bun! ----").bun
    assert inspect_executable(b"#!/usr/bin/env -S node --no-warnings\n").interpreter == "node"
    assert inspect_executable(b"#!/bin/sh\necho\n").interpreter == "/bin/sh"
    assert inspect_executable(b"plain text") == ExecutableInfo()


def test_classify_runtime() -> None:
    dyn, static = ExecutableInfo(elf=True), ExecutableInfo(elf=True, static=True)
    assert classify_runtime("/usr/bin/node", {"native", "node"}, dyn)[:2] == ("node", True)
    assert classify_runtime("/usr/bin/python3", {"native", "python"}, dyn)[:2] == ("python", True)
    runtime, traced, why = classify_runtime("/usr/bin/python3.11", {"native"}, dyn)
    assert (runtime, traced) == ("python", False) and "sitecustomize" in why
    assert classify_runtime("/usr/bin/node", {"native"}, dyn)[:2] == ("node", True)
    assert classify_runtime("/usr/bin/ls", {"native"}, dyn)[:2] == ("native", True)
    assert classify_runtime("/opt/x/codex", set(), static)[:2] == ("static", False)
    runtime, traced, why = classify_runtime(
        "/opt/oc/opencode", {"native"}, ExecutableInfo(elf=True, bun=True)
    )
    assert (runtime, traced) == ("bun", False) and "Bun" in why
    assert classify_runtime("/opt/gh", set(), ExecutableInfo(elf=True, static=True, go=True))[
        :2
    ] == ("go", False)
    assert classify_runtime("/opt/tool", set(), dyn)[:2] == ("native", False)
    assert classify_runtime("/opt/tool", set(), dyn, shim=False)[2].startswith(
        "the getenv shim was not built"
    )
    assert (
        classify_runtime("/x/run.sh", set(), ExecutableInfo(interpreter="/bin/sh"))[0] == "script"
    )
    assert classify_runtime("/x/unknown", set(), None)[:2] == ("unknown", False)


# --- robustness ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), max_size=30))
def test_arbitrary_lines_never_raise(lines: list[str]) -> None:
    parse_trace(lines)
    parse_trace(lines, skip_setup=False)


_TOKENS = st.sampled_from(
    [
        "openat(",
        "execve(",
        "getdents64(",
        "sendto(",
        "sendmmsg(",
        "connect(",
        "statx(",
        "access(",
        "chdir(",
        "clone(",
        "<... openat resumed>",
        "<... execve resumed>",
        " <unfinished ...>",
        ") = 0",
        ") = -1 ENOENT (x)",
        ") = 3<",
        ") = ?",
        "AT_FDCWD<",
        "\\x2f",
        "\\x",
        '"',
        "[",
        "]",
        "{",
        "}",
        "<",
        ">",
        ", ",
        "htons(53)",
        "iov_base=",
        "UDP:[1->2:53]",
        "NETLINK:[",
        "nlmsg_type=RTM_GETLINK",
        MARK,
        "env/getenv/1/",
        "zz",
        "hello/node",
        "O_DIRECTORY",
        "AF_INET6",
        "sun_path=@",
        "inet_addr(",
        " = ",
        "\\",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([CMD, BWRAP, INIT, 7]), st.lists(_TOKENS, max_size=14)),
        max_size=25,
    )
)
def test_strace_like_lines_never_raise(rows: list[tuple[int, list[str]]]) -> None:
    lines = [f"{pid} {''.join(tokens)}" for pid, tokens in rows]
    for parsed in (parse_trace([*SETUP, *lines]), parse_trace(lines, skip_setup=False)):
        assert all(isinstance(o, Observed) and o.count >= 1 for o in parsed.observed)
