# Probes of the escape-attempt tests (30-escape.t, 32-escape-host.t,
# 33-escape-limits.t). Each mode tries one technique and prints what
# happened as NAME=RESULT lines, RESULT being "ok" (it worked), an errno
# name (EPERM, ...) or SIGn (killed by signal n).
# The same program runs inside a container (python3 ~/escape-probe.py MODE)
# and on the host, as the user or as root, as the control that shows the
# probe itself works there. Python 3.7+, standard library only, x86_64
# syscall numbers. Everything is bounded: no probe waits without a limit.
import ctypes
import errno
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
L = ctypes.c_long

CLONE_NEWUSER = 0x10000000
CLONE_NEWNS = 0x00020000
PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SEIZE = 16, 17, 0x4206


def out(name, value):
    print("%s=%s" % (name, value), flush=True)


def ename(e):
    return errno.errorcode.get(e, str(e))


def sc(nr, *args):
    """A raw syscall: "ok" or the errno name."""
    conv = [a if isinstance(a, (bytes, type(None))) else L(a) for a in args]
    r = libc.syscall(L(nr), *conv)
    return "ok" if r >= 0 else ename(ctypes.get_errno())


def in_child(fn):
    """Runs FN in a forked child, so that what it changes (a namespace, the
    persona, a killed process) ends with the child."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            res = fn()
        except OSError as e:
            res = ename(e.errno)
        except Exception as e:  # pylint: disable=broad-except
            res = "exception:" + type(e).__name__
        os.write(w, str(res).encode())
        os._exit(0)
    os.close(w)
    res = b""
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        res += chunk
    os.close(r)
    _, st = os.waitpid(pid, 0)
    if os.WIFSIGNALED(st):
        return "SIG%d" % os.WTERMSIG(st)
    return res.decode()


def raw_clone(flags):
    r = libc.syscall(L(56), L(flags), None, None, None, L(0))
    if r == 0:
        os._exit(0)
    if r < 0:
        return ename(ctypes.get_errno())
    os.waitpid(r, 0)
    return "ok"


def syscalls(scratch):
    """The refused syscalls, with arguments that make each fail with
    something else than EPERM where no filter stops it (bad command, NULL
    pointer, fd -1), so that EPERM means the filter."""
    d = scratch.encode()
    probes = [
        ("keyctl", lambda: sc(250, 0x7FFF, 0, 0, 0, 0)),
        ("add_key", lambda: sc(248, None, None, None, 0, 0)),
        ("request_key", lambda: sc(249, None, None, None, 0)),
        ("bpf", lambda: sc(321, 9999, None, 0)),
        # UFFD_USER_MODE_ONLY passes vm.unprivileged_userfaultfd; the
        # unknown flag then makes it EINVAL.
        ("userfaultfd", lambda: sc(323, 1 | 0x40000000)),
        ("perf_event_open", lambda: sc(298, None, 0, -1, -1, 0)),
        ("io_uring_setup", lambda: sc(425, 1, None)),
        ("io_uring_enter", lambda: sc(426, -1, 0, 0, 0, None, 0)),
        ("io_uring_register", lambda: sc(427, -1, 0, None, 0)),
        ("open_by_handle_at", lambda: sc(304, -1, None, 0)),
        ("name_to_handle_at", lambda: sc(303, -1, None, None, None, 0)),
        # SYSLOG_ACTION_SIZE_BUFFER: what dmesg asks first.
        ("syslog", lambda: sc(103, 10, None, 0)),
        ("mount", lambda: sc(165, b"nt", d, b"tmpfs", 0, None)),
        ("umount2", lambda: sc(166, d, 0)),
        ("fsopen", lambda: sc(430, b"tmpfs", 0)),
        ("open_tree", lambda: sc(428, -100, b"/", 1)),
        ("pivot_root", lambda: sc(155, b"/nt-none", b"/nt-none")),
        ("unshare_user", lambda: sc(272, CLONE_NEWUSER)),
        ("unshare_mnt", lambda: sc(272, CLONE_NEWNS)),
        ("clone_newuser", lambda: raw_clone(CLONE_NEWUSER | signal.SIGCHLD)),
        ("clone3", lambda: sc(435, None, 0)),
        ("setns", lambda: sc(308, -1, 0)),
        ("personality_no_aslr", lambda: sc(135, 0x0040000)),
        ("socket_vsock", lambda: sc(41, 40, 1, 0)),
        ("mknod_chr_mem", lambda: sc(259, -100, d + b"/nt-mem", stat.S_IFCHR | 0o600,
                                     os.makedev(1, 1))),
        ("mknod_blk_loop", lambda: sc(259, -100, d + b"/nt-loop", stat.S_IFBLK | 0o600,
                                      os.makedev(7, 0))),
        # getpid in the x32 ABI (bit 30): a foreign ABI.
        ("x32_getpid", lambda: sc(0x40000000 | 39)),
    ]
    for name, fn in probes:
        out(name, in_child(fn))
    # What a working mknod made (in the control, as root) goes right away.
    for node in (b"/nt-mem", b"/nt-loop"):
        try:
            os.unlink(d + node)
        except OSError:
            pass


def _status(pid):
    """Name and the four uids of /proc/PID/status, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    name = uids = None
    for line in lines:
        if line.startswith("Name:"):
            name = line.split()[1]
        elif line.startswith("Uid:"):
            uids = line.split()[1:5]
    return name, uids


def setuid(*progs):
    """Runs each setuid program (NAME:PATH:ARG,ARG...) with stdin a pipe that
    stays open, and reads its effective uid from /proc once exec is done;
    prints NAME=EUID, or "absent".

    "Done" is not "its Name is the program's": execve sets the name before
    it installs the new credentials, so a read in between (seen under load)
    gives the caller's euid for a program that does get euid 0. Exec is
    certainly done once euid is 0, or once the program has written
    something or exited (all of these prompt or print): then it is read."""
    for spec in progs:
        name, path, args = spec.split(":", 2)
        if not os.path.exists(path):
            out(name, "absent")
            continue
        argv = [path] + [a for a in args.split(",") if a]
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        comm = os.path.basename(path)[:15]
        euid = "unknown"
        deadline = time.time() + 10
        while time.time() < deadline:
            # Readable: output or EOF, both only after exec completed.
            settled = bool(select.select([p.stdout], [], [], 0.01)[0])
            st = _status(p.pid)
            if st and st[0] == comm and st[1] and (settled or st[1][1] == "0"):
                euid = st[1][1]
                break
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        p.stdin.close()
        p.stdout.close()
        p.wait()
        out(name, euid)


def pids(*targets):
    """Signal, ptrace, pidfd, /proc/PID of processes given by host pid."""
    for t in targets:
        pid = int(t)
        out("kill0_%d" % pid, sc(62, pid, 0))
        # SEIZE: attaches without stopping the target (the control's sleep).
        out("ptrace_%d" % pid, in_child(lambda: sc(101, PTRACE_SEIZE, pid, 0, 0)))
        out("pidfd_%d" % pid, sc(434, pid, 0))
        try:
            os.listdir("/proc/%d/root/" % pid)
            out("root_%d" % pid, "ok")
        except OSError as e:
            out("root_%d" % pid, ename(e.errno))


def ptrace_own():
    """Control: ptrace works inside on one's own child (debuggers do)."""
    child = os.fork()
    if child == 0:
        time.sleep(10)
        os._exit(0)
    try:
        res = sc(101, PTRACE_ATTACH, child, 0, 0)
        if res == "ok":
            os.waitpid(child, 0)
            sc(101, PTRACE_DETACH, child, 0, 0)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    out("ptrace_own_child", res)


def writes(*paths):
    """Opens each path for writing and writes to it: "ok", the errno of the
    first step that failed, or "null" when the path is the null device (a
    mask: the write went nowhere). The value written is harmless where it
    lands, and checked from the host where it matters (core_pattern)."""
    for spec in paths:
        path, _, value = spec.partition("=")
        try:
            st = os.stat(path)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3):
                out(path, "null")
                continue
        except OSError:
            pass
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
        except OSError as e:
            out(path, ename(e.errno))
            continue
        try:
            os.write(fd, value.encode())
            out(path, "ok")
        except OSError as e:
            out(path, "opened-then-" + ename(e.errno))
        finally:
            os.close(fd)


def reads(*paths):
    """The number of bytes each path gives (at most 1 MB), or the errno."""
    for path in paths:
        try:
            with open(path, "rb") as f:
                out(path, len(f.read(1 << 20)))
        except OSError as e:
            out(path, ename(e.errno))


def masked(*paths):
    """How each path looks: "null" (the null device: a masked file),
    "empty-dir" (a masked directory), "absent", or "visible"."""
    for path in paths:
        try:
            st = os.stat(path)
        except OSError as e:
            out(path, "absent" if e.errno == errno.ENOENT else ename(e.errno))
            continue
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3):
            out(path, "null")
        elif stat.S_ISDIR(st.st_mode):
            try:
                n = len(os.listdir(path))
                out(path, "empty-dir" if n == 0 else "dir-with-%d" % n)
            except OSError as e:
                out(path, "dir-" + ename(e.errno))
        else:
            # Never read: reading /proc/kmsg blocks, and takes the messages
            # away from the host's syslog.
            out(path, "visible")


def tiocsti(fd="0"):
    """TIOCSTI (also with high bits set in the request) and TIOCLINUX on FD,
    the session's controlling terminal. Without a filter the kernel lets a
    process push input into its own controlling tty (legacy_tiocsti=1) or
    says EIO (=0); EPERM comes from the filter only."""
    fd = int(fd)
    try:
        out("ctty", "yes" if os.tcgetpgrp(fd) > 0 and os.ttyname(fd) else "no")
    except OSError as e:
        out("ctty", ename(e.errno))
    ch = ctypes.c_char(b"#")
    for name, req in (("tiocsti", 0x5412), ("tiocsti_hi", 0x100005412),
                      ("tiocsti_hi2", 0xFFFFFFFF00005412)):
        r = libc.ioctl(fd, req, ctypes.addressof(ch))
        out(name, "ok" if r >= 0 else ename(ctypes.get_errno()))
    sub = ctypes.c_char(b"\x00")
    for name, req in (("tioclinux", 0x541C), ("tioclinux_hi", 0x10000541C)):
        r = libc.ioctl(fd, req, ctypes.addressof(sub))
        out(name, "ok" if r >= 0 else ename(ctypes.get_errno()))
    # Drain what a working TIOCSTI would have queued.
    try:
        import termios
        termios.tcflush(fd, termios.TCIFLUSH)
    except Exception:  # pylint: disable=broad-except
        pass  # termios.error is no OSError


def tiocsti_pty():
    """Control, as host root: on a new pty, TIOCSTI with high bits set in the
    request does push a character (the kernel truncates the request)."""
    import pty
    import tty
    master, slave = pty.openpty()
    tty.setraw(slave)
    ch = ctypes.c_char(b"Q")
    r = libc.ioctl(slave, 0x100005412, ctypes.addressof(ch))
    res = "ok" if r >= 0 else ename(ctypes.get_errno())
    if res == "ok":
        ready, _, _ = select.select([slave], [], [], 2)
        res = os.read(slave, 10).decode() if ready else "nothing-queued"
    out("tiocsti_hi_pty", res)
    os.close(master)
    os.close(slave)


def tiocsetd():
    """TIOCSETD on a new pty: N_TTY (what it already has), N_NULL (27, a
    discipline whose module the kernel would load on demand) and N_TTY with
    high bits set in the request (the kernel truncates it)."""
    master, slave = os.openpty()
    for name, req, disc in (("tiocsetd_ntty", 0x5423, 0), ("tiocsetd_null", 0x5423, 27),
                            ("tiocsetd_hi", 0x100005423, 0)):
        d = ctypes.c_int(disc)
        r = libc.ioctl(slave, req, ctypes.addressof(d))
        out(name, "ok" if r >= 0 else ename(ctypes.get_errno()))
        if r >= 0 and disc != 0:
            d = ctypes.c_int(0)
            libc.ioctl(slave, 0x5423, ctypes.addressof(d))
    os.close(master)
    os.close(slave)


def _unix_addr(addr):
    """@NAME is the abstract name NAME, anything else a path."""
    return "\0" + addr[1:] if addr.startswith("@") else addr


def unix_connect(addr):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(_unix_addr(addr))
        out("unix_connect", "ok")
    except OSError as e:
        out("unix_connect", ename(e.errno) if e.errno else type(e).__name__)
    finally:
        s.close()


def unix_listen(addr, seconds):
    """Host side: listens on ADDR for SECONDS; reports each connection."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(_unix_addr(addr))
    s.listen(16)
    out("listening", addr)
    deadline = time.time() + float(seconds)
    n = 0
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([s], [], [], 0.5)
            if ready:
                c, _ = s.accept()
                n += 1
                out("accepted", n)
                c.close()
    finally:
        if not addr.startswith("@"):
            os.unlink(addr)


def tcp_connect(host, port):
    """Connects, then reads until EOF (at most 3 s): through an ssh -L
    tunnel the far end is reached only after the connection is made."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect((host, int(port)))
        out("tcp_connect", "ok")
        s.settimeout(3)
        try:
            out("tcp_read", len(s.recv(4096)))
        except OSError as e:
            out("tcp_read", ename(e.errno) if e.errno else type(e).__name__)
    except OSError as e:
        out("tcp_connect", ename(e.errno) if e.errno else type(e).__name__)
    finally:
        s.close()


def sysv_hold(seconds):
    """Host side: a SysV shared memory segment that lives as long as this
    process (attached, then marked for removal); prints its id."""
    libc.shmget.restype = ctypes.c_int
    libc.shmat.restype = ctypes.c_void_p
    shmid = libc.shmget(0, 4096, 0o600)  # IPC_PRIVATE
    if shmid < 0:
        out("shmid", ename(ctypes.get_errno()))
        return
    libc.shmat(shmid, None, 0)
    libc.shmctl(shmid, 0, None)  # IPC_RMID: gone when we are
    out("shmid", shmid)
    time.sleep(float(seconds))


def forks(limit, hold):
    """Forks children that sleep HOLD seconds until fork fails or LIMIT is
    reached; prints how many and the error, holds them HOLD seconds (so that
    the host can look meanwhile), then kills and reaps them."""
    kids, err = [], "none"
    for _ in range(int(limit)):
        try:
            pid = os.fork()
        except OSError as e:
            err = ename(e.errno)
            break
        if pid == 0:
            time.sleep(float(hold) + 5)
            os._exit(0)
        kids.append(pid)
    out("forked", "%d %s" % (len(kids), err))
    time.sleep(float(hold))
    for pid in kids:
        os.kill(pid, signal.SIGKILL)
    for pid in kids:
        os.waitpid(pid, 0)
    out("reaped", len(kids))


def inotify_fill(limit, hold):
    """Opens inotify instances until refused or LIMIT; prints how many and
    the error, then holds them HOLD seconds (the host looks meanwhile)."""
    fds, err = [], "none"
    for _ in range(int(limit)):
        r = libc.inotify_init1(0o2000000)  # IN_CLOEXEC
        if r < 0:
            err = ename(ctypes.get_errno())
            break
        fds.append(r)
    out("inotify", "%d %s" % (len(fds), err))
    time.sleep(float(hold))
    for fd in fds:
        os.close(fd)


def pty_fill(limit, hold):
    """Opens ptys (/dev/ptmx) until refused or LIMIT; prints how many and
    the error, then holds them HOLD seconds."""
    fds, err = [], "none"
    for _ in range(int(limit)):
        try:
            fds.append(os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY))
        except OSError as e:
            err = ename(e.errno)
            break
    out("pty", "%d %s" % (len(fds), err))
    time.sleep(float(hold))
    for fd in fds:
        os.close(fd)


class MqAttr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long),
                ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long),
                ("pad", ctypes.c_long * 4)]


def mq_fill(limit, hold):
    """Creates POSIX message queues (10 x 8 KiB, about 80 KiB each, charged
    to RLIMIT_MSGQUEUE of the user) until refused or LIMIT; prints how many
    and the error, then holds them HOLD seconds. The names are unlinked at
    once: a queue then lives (and stays charged) as long as its fd."""
    fds, err = [], "none"
    attr = MqAttr(0, 10, 8192, 0)
    for i in range(int(limit)):
        name = ("nt-mq-%d-%d" % (os.getpid(), i)).encode()
        # mq_open(2) and mq_unlink(2) (x86_64: 240, 241): the kernel wants
        # the name without glibc's leading slash.
        r = libc.syscall(L(240), name, L(os.O_RDWR | os.O_CREAT | os.O_EXCL | 0o2000000),
                         L(0o600), ctypes.byref(attr))
        if r < 0:
            err = ename(ctypes.get_errno())
            break
        libc.syscall(L(241), name)
        fds.append(r)
    out("mq", "%d %s" % (len(fds), err))
    time.sleep(float(hold))
    for fd in fds:
        os.close(fd)


def ns_owner(path):
    """The owner uid of the user namespace at PATH (ioctl NS_GET_OWNER_UID)."""
    import fcntl
    import struct
    fd = os.open(path, os.O_RDONLY)
    buf = bytearray(4)
    try:
        fcntl.ioctl(fd, 0xB704, buf)
        out("owner", struct.unpack("I", bytes(buf))[0])
    except OSError as e:
        out("owner", ename(e.errno))
    os.close(fd)


def keep_fd0(path, seconds):
    """A process left behind: detaches (fork, setsid), keeps fd 0 and
    appends whatever it reads there to PATH for SECONDS; EOF and EIO (a
    hung-up terminal) do not end it. Its pid goes to PATH.pid."""
    # The terminal's hangup when the session leader exits must not end it.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    r, w = os.pipe()
    if os.fork() != 0:
        os.close(w)
        os.read(r, 1)  # until the child has its own session
        out("detached", "yes")
        os._exit(0)
    os.close(r)
    os.setsid()
    with open(path + ".pid", "w") as f:
        f.write("%d\n" % os.getpid())
    os.close(w)
    os.close(1)
    os.close(2)
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:
            time.sleep(0.05)
            continue
        with open(path, "ab") as f:
            f.write(data)
    os._exit(0)


def alloc(mb):
    """Allocates and touches MB megabytes."""
    chunks = []
    for i in range(int(mb)):
        chunks.append(b"x" * (1 << 20))
        if (i + 1) % 64 == 0:
            out("allocated", i + 1)
    out("allocated_all", mb)


if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
