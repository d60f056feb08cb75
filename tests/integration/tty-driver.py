# Root at a host prompt, for 35-escape-tty.t: runs a command (nookctl exec,
# or a host-side control) on a new pty whose master this program holds,
# the way a terminal emulator would. Prints NAME=VALUE lines. Bounded: every
# wait has a deadline (60 s in all, or NT_TTY_DEADLINE).
#
#   tty-driver.py run -- ARGV...            output and exit status
#   tty-driver.py interact EXPECT SEND ... -- ARGV...
#       waits for each EXPECT (a regex) in the output, then types SEND
#       (\x03 is ^C, "winsize:R,C" resizes the terminal instead,
#       "waitfile:PATH" waits until PATH exists, reading all the while)
#   tty-driver.py after SECONDS [EXPECT SEND]... -- ARGV...
#       as interact; once the command has returned, types a secret line at
#       the "prompt" and reports after SECONDS how much of it nobody has
#       read (queued); a terminal the command hung up is opened again
#       first (reopened=yes), as the next getty would
import fcntl
import os
import re
import select
import struct
import sys
import termios
import time

SECRET = b"nt-secret-typed-after-exit\n"


def out(name, value):
    print("%s=%s" % (name, value), flush=True)


def spawn(argv):
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    pid = os.fork()
    if pid == 0:
        os.close(master)
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        if slave > 2:
            os.close(slave)
        os.execvp(argv[0], argv)
    return pid, master, slave


def pump(master, buf, timeout):
    r, _, _ = select.select([master], [], [], timeout)
    if r:
        try:
            data = os.read(master, 4096)
        except OSError:
            return False
        if not data:
            return False
        buf.extend(data)
    return True


def finish(pid, master, buf, deadline):
    code = None
    while time.monotonic() < deadline:
        wpid, st = os.waitpid(pid, os.WNOHANG)
        if wpid == pid:
            code = os.waitstatus_to_exitcode(st)
            break
        pump(master, buf, 0.05)
    while pump(master, buf, 0.05) and select.select([master], [], [], 0)[0]:
        pass
    return code


def main():
    mode = sys.argv[1]
    sep = sys.argv.index("--")
    args, argv = sys.argv[2:sep], sys.argv[sep + 1:]
    pid, master, slave = spawn(argv)
    name = os.ttyname(slave)
    buf = bytearray()
    deadline = time.monotonic() + float(os.environ.get("NT_TTY_DEADLINE", "60"))
    pairs = args[1:] if mode == "after" else args
    if pairs:
        for i in range(0, len(pairs), 2):
            pat = re.compile(pairs[i].encode())
            while not pat.search(buf) and time.monotonic() < deadline:
                if not pump(master, buf, 0.1):
                    break
            if not pat.search(buf):
                out("missed", pairs[i])
                break
            del buf[:pat.search(buf).end()]
            send = pairs[i + 1]
            if send.startswith("waitfile:"):
                while not os.path.exists(send[9:]) and time.monotonic() < deadline:
                    pump(master, buf, 0.1)
                if not os.path.exists(send[9:]):
                    out("missed", send)
                    break
            elif send.startswith("winsize:"):
                rows, cols = send[8:].split(",")
                fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", int(rows), int(cols), 0, 0))
            else:
                os.write(master, send.encode().decode("unicode_escape").encode("latin-1"))
    code = finish(pid, master, buf, deadline)
    out("exit", code)
    for line in buf.decode(errors="replace").replace("\r", "").splitlines():
        print("out:" + line, flush=True)
    if mode == "after":
        # A session that hung its terminal up (login's) leaves it to the
        # next open, as a getty's would be: open it again.
        try:
            termios.tcgetattr(slave)
        except termios.error:
            slave = os.open(name, os.O_RDWR | os.O_NOCTTY)
            out("reopened", "yes")
        # The prompt is back: root types something meant for the host.
        os.write(master, SECRET)

        def queued():
            return struct.unpack("i", fcntl.ioctl(slave, termios.FIONREAD, b"\0\0\0\0"))[0]

        # What is written to the master reaches the line discipline a
        # little later (a workqueue): first until it has arrived (or was
        # read at once), then SECONDS for anyone to read it.
        arrived = time.monotonic() + 2
        q = queued()
        while q < len(SECRET) and time.monotonic() < arrived:
            time.sleep(0.01)
            q = queued()
        until = time.monotonic() + float(args[0])
        while q == len(SECRET) and time.monotonic() < until:
            time.sleep(0.05)
            q = queued()
        out("queued", q)
        out("typed", len(SECRET))


main()
