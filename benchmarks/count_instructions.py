"""W3's CPU as instructions, counted by valgrind: a noise-free yardstick for one change.

W3's paired CPU ratio (``bench_peers.py --only w3``) moves by ±15 % between runs on a
shared machine, more than most single changes save. The instructions the client
executes do not move: this runs W3 (1000 messages over 20 webhooks, ``wait=true``,
against ``bench_peers``'s fake in its own process, TLS on 127.0.0.1) under
``valgrind --tool=callgrind`` once with one round and once with three, and prints the
difference over two rounds: the instructions a delivered message costs, start-up and
imports left out. Count before and after a change, on the same machine.

Instructions are not time: a system call or a cache miss costs far more than an
instruction, and valgrind does not count the kernel's work (the socket writes, epoll).
What the count is good for is the library's own Python, which is what a change to it
changes.

Run: ``python benchmarks/count_instructions.py [--api senders|hub]``. Needs valgrind
(``apt-get install -y valgrind``); not part of ``nox -s bench``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))


def run_rounds(api: str, rounds: int) -> None:
    """The measured process: ``rounds`` W3 runs through trio-webhook, each on fresh webhooks."""
    sys.path.insert(0, _HERE)
    import bench_peers

    size: dict[str, Any] = {"hooks": 20, "per_hook": 50}
    workdir = tempfile.mkdtemp()
    config = {**bench_peers._fake_config("w3", size), "ca_file": os.path.join(workdir, "ca.pem")}
    fake = bench_peers._FakeProcess(config)
    os.environ["SSL_CERT_FILE"] = fake.ca_file
    try:
        for _ in range(rounds):
            spec = {
                **size,
                "workload": "w3",
                "client": "trio-webhook",
                "base": fake.url,
                "ca_file": fake.ca_file,
                "hooks": fake.new_hooks(),
                "transport": "default",
                "api": api,
            }
            result = bench_peers._trio_webhook(spec)
            if result["delivered"] != 1000:
                raise SystemExit(f"delivered {result['delivered']} of 1000")
    finally:
        fake.close()


def _count(api: str, rounds: int) -> int:
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={os.path.join(out, 'callgrind.out')}",
                sys.executable,
                os.path.abspath(__file__),
                "_rounds",
                api,
                str(rounds),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    found = re.search(r"Collected : ([\d,]+)", done.stderr)
    if found is None:
        raise SystemExit("valgrind printed no count:\n" + done.stderr[-2000:])
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", choices=("senders", "hub"), default="senders")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind: apt-get install -y valgrind")
    one, three = _count(args.api, 1), _count(args.api, 3)
    per_message = (three - one) / 2 / 1000
    print(f"W3 ({args.api}): {per_message / 1000:.0f} K instructions a message")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "_rounds":
        run_rounds(sys.argv[2], int(sys.argv[3]))
    else:
        main()
