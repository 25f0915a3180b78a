"""What bench/peer_bench.py prints: one line per run, the table of medians, the environment."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import postgraphile
from bench.loadgen import LoadFigures

__all__ = ["describe_environment", "medians_table", "run_line", "server_log_exceptions"]


def _ms(value: float | None) -> str:
    if value is None:
        return ""
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def run_line(label: str, f: LoadFigures) -> str:
    """One measured run: rate, latency, CPU per request of the server and PostgreSQL, the rest in cores."""

    def cpu(group: str) -> str:
        cores = f.cpu.cores.get(group)
        return "" if cores is None else f"  {group} {_ms(f.ms_per_request(group))}/req ({cores:.2f} cores)"

    latency = (
        f"p50 {_ms(f.p50_ms)}  p99 {_ms(f.p99_ms)}" if f.generator == "wrk" else f"avg {_ms(f.average_ms)}"
    )
    database = ""
    if f.transactions_per_request is not None:
        database = f"  {f.transactions_per_request:.1f} PG xacts/req, {f.sessions_opened} sessions opened"
    return (
        f"{label}: {f.rate:8.1f} req/s  {latency}{cpu('server')}{cpu('postgres')}{database}  "
        f"{f.generator} {f.cpu.cores[f.generator]:.2f} cores  other {f.other_cores():.2f} cores  bad {f.bad}"
    )


def _median(
    runs: Sequence[LoadFigures] | None, figure: Callable[[LoadFigures], float | None]
) -> float | None:
    values = [v for v in map(figure, runs or ()) if v is not None]
    return statistics.median(values) if values else None


def _one_decimal(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _ratio(mine: float | None, peer: float | None) -> str:
    return f"{mine / peer:.2f}x" if mine is not None and peer else ""


def medians_table(
    targets: Sequence[tuple[str, str]], results: Mapping[str, Sequence[LoadFigures]], *, peer: str
) -> str:
    """A markdown table of the medians per target (key, label), with the ratios to the `peer` target."""
    peer_runs = results.get(peer)
    peer_rate = _median(peer_runs, lambda r: r.rate)
    peer_server = _median(peer_runs, lambda r: r.ms_per_request("server"))
    rows = [
        "| server | req/s (median [range]) | p50 | p99 | server CPU per request | PostgreSQL CPU per request "
        "| PostgreSQL transactions per request | load generator (cores) | other CPU (cores) | bad answers "
        "| req/s ÷ PostGraphile | server CPU per request ÷ PostGraphile |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, label in targets:
        runs = results[key]
        rates = [r.rate for r in runs]
        rate = statistics.median(rates)
        server = _median(runs, lambda r: r.ms_per_request("server"))
        http = runs[0].generator == "wrk"
        load = statistics.median(r.cpu.cores[r.generator] for r in runs)
        cells = [
            label,
            f"{rate:,.1f} [{min(rates):,.1f}-{max(rates):,.1f}]",
            _ms(_median(runs, lambda r: r.p50_ms))
            if http
            else f"avg {_ms(_median(runs, lambda r: r.average_ms))}",
            _ms(_median(runs, lambda r: r.p99_ms)),
            _ms(server),
            _ms(_median(runs, lambda r: r.ms_per_request("postgres"))),
            _one_decimal(_median(runs, lambda r: r.transactions_per_request)),
            f"{load:.2f}",
            f"{statistics.median(r.other_cores() for r in runs):.2f}",
            str(sum(r.bad for r in runs)),
            "" if key == peer else _ratio(rate, peer_rate),
            "" if key == peer else _ratio(server, peer_server),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError:
        return "not found"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else ""


def describe_environment(
    *, settings: Mapping[str, Any], node: Path | None, postgres_version: str, casegraph_env: Mapping[str, str]
) -> str:
    """Machine, versions and settings of a sitting, so its figures can be compared with another's."""
    repo = Path(__file__).resolve().parent.parent
    dirty = _first_line(["git", "-C", str(repo), "status", "--porcelain"])
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        f"date: {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}; host: {os.cpu_count()} cpus, {model}",
        f"casegraph: {_first_line(['git', '-C', str(repo), 'rev-parse', 'HEAD'])}"
        + (" (uncommitted changes)" if dirty else "")
        + f"; python {platform.python_version()}; casegraph environment: {dict(casegraph_env) or 'none'}",
        f"postgresql: {postgres_version}",
        f"postgraphile: {postgraphile.POSTGRAPHILE_VERSION} on node "
        + (postgraphile.node_version(node) if node else "(skipped)"),
        f"wrk: {_first_line(['wrk', '--version'])}; pgbench: {_first_line(['pgbench', '--version'])}",
        f"settings: {dict(settings)}",
    ]
    return "\n".join(lines) + "\n"


def server_log_exceptions(log: Path) -> str:
    """A line naming the exceptions a server logged, by type; empty when it logged none.

    A client that closes its connection with an answer still in flight (wrk does, at the end of
    every run) may show here as a disconnect: that is the run ending, not a bad answer.
    """
    found: Counter[str] = Counter()
    in_traceback = False
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("Traceback (most recent call last):"):
            in_traceback = True
        elif in_traceback and line and not line[0].isspace():
            found[line.split(":", 1)[0]] += 1
            in_traceback = False
    if not found:
        return ""
    kinds = ", ".join(f"{kind} x{count}" for kind, count in found.most_common())
    return f"{log.name}: {sum(found.values())} exceptions logged ({kinds})\n"
