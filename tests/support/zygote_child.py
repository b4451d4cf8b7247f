"""A zygote for tests/integration/test_zygote.py: `python -m tests.support.zygote_child DIR`
serves bench/load/zygote.py's protocol with a warm step and a run step whose outcome the
request names (report, exit, raise, interrupt, sleep)."""

from __future__ import annotations

import json
import os
import sys
import time

from bench.load import zygote

STATE = {"warmed_in": 0, "counter": 0}


def warm() -> None:
    STATE["warmed_in"] = os.getpid()


def run(args: list[str]) -> None:
    print("hello from the child", flush=True)
    STATE["counter"] += 1
    what = args[0]
    if what == "report":
        seen = {
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "sid": os.getsid(0),
            "pgid": os.getpgid(0),
            "warmed_in": STATE["warmed_in"],
            "counter": STATE["counter"],
            "env": os.environ.get("ZYGOTE_TEST"),
            "cwd": os.getcwd(),
        }
        with open(args[1], "w") as fh:
            json.dump(seen, fh)
    elif what == "exit":
        sys.exit(int(args[1]))
    elif what == "raise":
        raise ValueError("a bug")
    elif what == "interrupt":
        raise KeyboardInterrupt
    elif what == "sleep":
        try:
            time.sleep(float(args[1]))
        except KeyboardInterrupt:
            sys.exit(3)


if __name__ == "__main__":
    sys.exit(zygote.serve(warm, run))
