"""Issue 11's interrupts, measured: SIGINT or SIGTERM at evenly spaced moments of a run.

    .venv/bin/python experiments/interrupts.py [--step 0.1] [--until 3.0] [--commands fit,sweep]

For each command and signal, the signal is sent to a fresh ``steepest`` process
``step``, ``2 step``, ... seconds after it started (through start-up, loading,
compiling, the loop and exit). A run passes when it exits 130 (143 for SIGTERM)
with exactly one line on stderr, or exits 0 having finished before the signal came.
Anything else (a traceback, a crash, a silent death by the signal) is listed.
"""

import argparse
import collections
import shutil
import signal
import subprocess
import tempfile
import time

COMMANDS = {
    "fit": ["fit"],
    "compare": ["compare"],
    "sweep": ["sweep", "--num", "4"],
    "bench": ["bench", "--size", "small", "--out", "bench.json"],
}
EXPECTED = {signal.SIGINT: 130, signal.SIGTERM: 143}


def one_run(argv: list[str], number: signal.Signals, delay: float, folder: str):
    process = subprocess.Popen(
        [shutil.which("steepest"), *argv],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    process.send_signal(number)
    _, stderr = process.communicate()
    lines = stderr.strip().splitlines()
    clean = process.returncode == 0 and not lines
    handled = process.returncode == EXPECTED[number] and len(lines) == 1
    return process.returncode, lines, clean or handled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=0.1)
    parser.add_argument("--until", type=float, default=3.0)
    parser.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated")
    args = parser.parse_args()
    delays = [args.step * k for k in range(1, int(args.until / args.step) + 1)]
    total = failed = 0
    with tempfile.TemporaryDirectory() as folder:
        for name in args.commands.split(","):
            argv = COMMANDS[name]
            for number in EXPECTED:
                codes = collections.Counter()
                for delay in delays:
                    code, lines, passed = one_run(argv, number, delay, folder)
                    codes[code] += 1
                    total += 1
                    if not passed:
                        failed += 1
                        where = f"{name} {number.name} at {delay:.2f} s"
                        print(f"  FAILED {where}: exit {code}, {lines[-2:]}")
                print(f"{name:8} {number.name:8} exit codes {dict(sorted(codes.items()))}")
    print(f"{total - failed} of {total} runs handled the signal as promised")


if __name__ == "__main__":
    main()
