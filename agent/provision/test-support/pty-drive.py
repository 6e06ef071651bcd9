#!/usr/bin/python3
"""Drives a command through a real pseudo-terminal, as a person at a keyboard would.

Usage: pty-drive.py SCRIPT.json -- COMMAND ARGS...
SCRIPT.json is [[regex, reply], ...]: wait until the screen (ANSI sequences removed) shows
`regex` after the previous match, then type `reply` and Enter. Prints one JSON line:
{"code": exit status, "transcript": what the terminal showed (ANSI removed), "raw": every
byte it received, "step": steps done}.
Each step waits at most STEP_SECONDS; the command is killed if it overruns.
"""

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time

STEP_SECONDS = 90
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def main(argv):
    split = argv.index("--")
    with open(argv[0], encoding="utf8") as f:
        steps = json.load(f)
    command = argv[split + 1 :]
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
        os.execvp(command[0], command)
    raw = b""
    done = 0
    position = 0
    deadline = time.monotonic() + STEP_SECONDS

    def read_some(timeout):
        nonlocal raw
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return False
        if not chunk:
            return False
        raw += chunk
        return True

    alive = True
    while done < len(steps) and alive:
        pattern, reply = steps[done]
        screen = ANSI.sub(b"", raw).decode("utf8", "replace")
        match = re.compile(pattern).search(screen, position)
        if match:
            position = match.end()
            os.write(fd, reply.encode("utf8") + b"\r")
            done += 1
            deadline = time.monotonic() + STEP_SECONDS
            continue
        if time.monotonic() > deadline:
            break
        alive = read_some(0.2)
    end = time.monotonic() + STEP_SECONDS
    while alive and time.monotonic() < end:
        alive = read_some(0.5)
    if alive:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    transcript = ANSI.sub(b"", raw).decode("utf8", "replace")
    print(json.dumps({"code": code, "transcript": transcript, "raw": raw.decode("latin1"), "step": done}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
