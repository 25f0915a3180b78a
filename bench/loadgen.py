"""Load for the peer benchmark: wrk against a GraphQL server, pgbench against PostgreSQL, and the CPU
each group of processes used meanwhile.

    figures = await run_wrk(url, body_file, token=..., seconds=30, connections=32,
                            cpu=[CpuGroup("server", (pid,)), CpuGroup("postgres", (postmaster,), only=db)],
                            output=Path("results/wrk_x.txt"))

CPU is read from /proc every 0.25 s while the load runs, from 1 s after its start to 1 s before its
end (connection set-up and tear-down left out). A group is its root processes plus all their
descendants; a process born inside the window counts from zero, one that dies loses at most its
last 0.25 s. `only=` keeps the processes with that word in their command line: PostgreSQL backends
carry their database's name in their process title, so a shared server's other databases (and its
background processes) do not count. Cores: 1.0 = one core busy for the whole window.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CpuGroup", "CpuUse", "LoadFigures", "run_pgbench", "run_wrk"]

LUA_SCRIPT = Path(__file__).resolve().parent / "peer_post.lua"
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuGroup:
    """Processes whose CPU is added up: `roots` and their descendants (filtered by `only`)."""

    name: str
    roots: tuple[int, ...]
    only: str | None = None


@dataclass
class CpuUse:
    window: float  # seconds sampled
    cores: dict[str, float]  # group name -> average cores used
    machine_busy: float  # cores busy on the whole machine (every process)

    def describe(self) -> str:
        groups = ", ".join(f"{name} {cores:.2f}" for name, cores in self.cores.items())
        return (
            f"cpu over {self.window:.1f} s, in cores: {groups}; "
            f"machine {self.machine_busy:.2f} of {os.cpu_count()}"
        )


@dataclass
class LoadFigures:
    generator: str  # "wrk" or "pgbench"; also its group in `cpu`
    rate: float  # requests (or pgbench transactions) per second
    p50_ms: float | None
    p99_ms: float | None
    average_ms: float | None
    bad: int  # bad answers, socket errors and timeouts (pgbench: failed transactions)
    cpu: CpuUse = field(repr=False)
    # Filled in by the caller from pg_stat_database, when it watched the database during the run.
    transactions_per_request: float | None = None
    sessions_opened: int | None = None

    def ms_per_request(self, group: str) -> float | None:
        """CPU milliseconds `group` spent per request."""
        cores = self.cpu.cores.get(group)
        return None if cores is None or not self.rate else cores * 1000 / self.rate

    def other_cores(self) -> float:
        """Busy cores no measured group accounts for (this bench, other jobs on the machine)."""
        return self.cpu.machine_busy - sum(self.cpu.cores.values())


def _processes() -> dict[int, tuple[int, int, int]]:
    """pid -> (parent pid, CPU ticks so far, start time) of every process."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        found[int(entry)] = (int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[19]))
    return found


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)


def _members(processes: dict[int, tuple[int, int, int]], group: CpuGroup) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    seen: set[int] = set()
    stack = [pid for pid in group.roots if pid in processes]
    while stack:
        pid = stack.pop()
        if pid not in seen:
            seen.add(pid)
            stack.extend(children.get(pid, []))
    if group.only is None:
        return seen
    return {pid for pid in seen if group.only in _cmdline(pid).split()}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _sample_cpu(groups: Sequence[CpuGroup], seconds: float) -> CpuUse:
    """Blocking: CPU of each group over the next `seconds`."""
    first: dict[tuple[str, int, int], int] = {}  # (group, pid, start time) -> ticks when first seen
    last: dict[tuple[str, int, int], int] = {}

    def look(processes: dict[int, tuple[int, int, int]], born_inside: bool) -> None:
        for group in groups:
            for pid in _members(processes, group):
                _, ticks, started = processes[pid]
                key = (group.name, pid, started)
                first.setdefault(key, 0 if born_inside else ticks)
                last[key] = ticks

    machine_before = _machine_ticks()
    began = time.monotonic()
    look(_processes(), born_inside=False)
    while time.monotonic() - began < seconds:
        time.sleep(0.25)
        look(_processes(), born_inside=True)
    window = time.monotonic() - began
    machine_after = _machine_ticks()
    cores = {group.name: 0.0 for group in groups}
    for key, ticks in last.items():
        cores[key[0]] += (ticks - first[key]) / _TICK / window
    busy = (machine_after[0] - machine_before[0]) / max(1, machine_after[1] - machine_before[1])
    return CpuUse(window=window, cores=cores, machine_busy=busy * (os.cpu_count() or 1))


async def _measured(
    command: Sequence[str],
    *,
    seconds: float,
    cpu: Sequence[CpuGroup],
    generator: str,
    output: Path,
    env: dict[str, str] | None = None,
) -> tuple[str, CpuUse]:
    """Run `command` (which lasts `seconds`), sampling CPU meanwhile; its output, also written to `output`."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    margin = min(1.0, seconds / 5)
    await asyncio.sleep(margin)
    groups = [*cpu, CpuGroup(generator, (process.pid,))]
    use = await asyncio.to_thread(_sample_cpu, groups, seconds - 2 * margin)
    stdout, _ = await process.communicate()
    text = stdout.decode(errors="replace")
    await asyncio.to_thread(output.write_text, f"$ {' '.join(command)}\n{text}\n{use.describe()}\n")
    if process.returncode != 0:
        raise RuntimeError(f"{command[0]} exited with {process.returncode}: {text[-2000:]}")
    return text, use


_UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _wrk_ms(text: str, percent: int) -> float | None:
    found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    return float(found.group(1)) * _UNIT_MS[found.group(2)] if found else None


async def run_wrk(
    url: str,
    body_file: Path,
    *,
    token: str | None,
    seconds: float,
    connections: int,
    cpu: Sequence[CpuGroup],
    output: Path,
    threads: int = 2,
    answer_timeout: str = "10s",
) -> LoadFigures:
    """`wrk --latency` POSTing `body_file` to `url`; req/s, p50/p99, bad answers and CPU.

    The timeout is 10 s rather than wrk's 2 s: slower answers would otherwise drop out of the
    latency figures and show only as socket errors.
    """
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        "--timeout", answer_timeout, "--latency", "-s", str(LUA_SCRIPT), url,
    ]  # fmt: skip
    text, use = await _measured(
        command,
        seconds=seconds,
        cpu=cpu,
        generator="wrk",
        output=output,
        env={"WRK_BODY_FILE": str(body_file), "WRK_TOKEN": token or ""},
    )
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if rate is None:
        raise RuntimeError(f"no Requests/sec in wrk's output: {text[-2000:]}")
    bad = re.search(r"bad responses: (\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return LoadFigures(
        generator="wrk",
        rate=float(rate.group(1)),
        p50_ms=_wrk_ms(text, 50),
        p99_ms=_wrk_ms(text, 99),
        average_ms=None,
        bad=(int(bad.group(1)) if bad else 0) + (sum(map(int, sockets.groups())) if sockets else 0),
        cpu=use,
    )


async def run_pgbench(
    url: str,
    sql_file: Path,
    *,
    seconds: float,
    connections: int,
    cpu: Sequence[CpuGroup],
    output: Path,
    threads: int = 2,
) -> LoadFigures:
    """`pgbench -M prepared` running the one statement of `sql_file`: transactions per second and CPU."""
    command = [
        "pgbench", "-n", "-M", "prepared", f"-c{connections}", f"-j{threads}",
        f"-T{max(1, round(seconds))}", "-f", str(sql_file), url,
    ]  # fmt: skip
    text, use = await _measured(command, seconds=seconds, cpu=cpu, generator="pgbench", output=output)
    rate = re.search(r"^tps = ([\d.]+)", text, re.M)
    if rate is None:
        raise RuntimeError(f"no tps in pgbench's output: {text[-2000:]}")
    average = re.search(r"latency average = ([\d.]+) ms", text)
    failed = re.search(r"number of failed transactions: (\d+)", text)
    return LoadFigures(
        generator="pgbench",
        rate=float(rate.group(1)),
        p50_ms=None,
        p99_ms=None,
        average_ms=float(average.group(1)) if average else None,
        bad=int(failed.group(1)) if failed else 0,
        cpu=use,
    )
