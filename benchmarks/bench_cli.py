"""Start-up time and memory of the ``py-autotask`` command line, each command in a fresh process.

- ``py-autotask --help``: median wall time and CPU time (user + system) over fresh runs, next to
  ``python -c "import typer"`` (the floor: the CLI framework alone) run in the same rounds, so
  machine load hits both alike. Target: under 0.3 s.
- Peak RSS of ``get Tickets 1``, ``count Tickets`` and ``query Tickets --max 500`` (table output)
  against the simulator in its own process, next to ``python -c "import httpx, pydantic"`` (what
  any command that talks to Autotask loads). Target: under 100 MB each.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._simproc import SimulatorProcess
from benchmarks._util import median, report

HELP_TARGET = 0.3
RSS_TARGET = 100.0


def _cli() -> list[str]:
    """The installed console script (what users run), else ``python -m py_autotask.cli``."""
    script = Path(sys.executable).parent / "py-autotask"
    return [str(script)] if script.exists() else [sys.executable, "-m", "py_autotask.cli"]


#: Writes the process's peak RSS (``VmHWM``, KiB) to ``$BENCH_RSS_FILE`` at exit. ``ru_maxrss``
#: of a child would not do: it counts the parent's pages copied by ``fork`` before ``exec``.
_REPORT_RSS = """
import atexit, os, resource
def _report_rss():
    try:
        with open("/proc/self/status") as f:
            kib = int(next(line for line in f if line.startswith("VmHWM")).split()[1])
    except OSError:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(os.environ["BENCH_RSS_FILE"], "w") as out:
        out.write(str(kib))
atexit.register(_report_rss)
"""


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """``(wall seconds, cpu seconds)`` of one fresh process; raises if it fails."""
    import time

    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{cmd} exited {proc.returncode}: {err.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def _peak_rss(code: str, args: list[str], env: dict[str, str] | None = None) -> float:
    """Peak RSS (MB) of ``python -c code args`` (the code sees ``sys.argv[1:] == args``)."""
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "rss")
        _run(
            [sys.executable, "-c", _REPORT_RSS + code, *args],
            {**(env or os.environ), "BENCH_RSS_FILE": target},
        )
        with open(target) as f:
            return int(f.read()) / 1024


_CLI_CODE = "import sys\nfrom py_autotask.cli import main\nsys.exit(main(sys.argv[1:]))\n"
_CLIENT_FLOOR = "import httpx, pydantic\n"


def bench_help(runs: int) -> None:
    cli = _cli()
    floor = [sys.executable, "-c", "import typer"]
    ours: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    for _ in range(runs):  # alternate, so load changes hit both
        base.append(_run(floor))
        ours.append(_run([*cli, "--help"]))
    wall = median([w for w, _c in ours])
    cpu = median([c for _w, c in ours])
    base_cpu = median([c for _w, c in base])
    print(f"py-autotask --help: {runs} fresh runs each (medians)")
    report('python -c "import typer" (floor), wall', median([w for w, _c in base]), "s")
    report('python -c "import typer" (floor), cpu', base_cpu, "s")
    report("py-autotask --help, wall", wall, "s", f"< {HELP_TARGET}", wall < HELP_TARGET)
    report("py-autotask --help, cpu", cpu, "s")
    report("py-autotask --help / floor (cpu)", cpu / base_cpu, "x")
    report("py-autotask --help, peak RSS", _peak_rss(_CLI_CODE, ["--help"]), "MB")


def bench_rss(runs: int) -> None:
    commands = {
        "get Tickets 1": ["get", "Tickets", "1"],
        "count Tickets": ["count", "Tickets"],
        "query Tickets --max 500": ["query", "Tickets", "--max", "500"],
    }
    cli = _cli()
    floor = _peak_rss(_CLIENT_FLOOR, [])
    with SimulatorProcess("--count", "Tickets=1000", "--hourly-limit", "100000000") as sim:
        creds = sim.credentials
        env = {
            **os.environ,
            "AUTOTASK_USERNAME": creds["username"],
            "AUTOTASK_SECRET": creds["secret"],
            "AUTOTASK_INTEGRATION_CODE": creds["integration_code"],
            "AUTOTASK_API_URL": creds["api_url"],
        }
        print(f"peak RSS per command against the simulator ({runs} run(s) each; medians)")
        report('python -c "import httpx, pydantic" (floor)', floor, "MB")
        for label, args in commands.items():
            rss = median([_peak_rss(_CLI_CODE, args, env) for _ in range(runs)])
            wall = median([_run([*cli, *args], env)[0] for _ in range(runs)])
            report(
                f"py-autotask {label}, peak RSS", rss, "MB", f"< {RSS_TARGET:.0f}", rss < RSS_TARGET
            )
            report(f"py-autotask {label}, RSS / floor", rss / floor, "x")
            report(f"py-autotask {label}, wall", wall, "s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--smoke", action="store_true")
    mode.add_argument("--full", action="store_true")
    args = parser.parse_args(argv)
    print("== bench_cli: start-up time and memory of the command line")
    bench_help(3 if args.smoke else 15)
    bench_rss(1 if args.smoke else 3)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
