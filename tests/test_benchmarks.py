"""The benchmarks run and print their figures (docs/benchmarks.md records full-size runs):
each `mailferry bench …` at a tiny size, as a person would start it, on the test's own data
folder, ports and database. The figures themselves are not targets here: at this size the
once-per-tenant calls dominate the per-1,000 rates."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench(run_env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", "bench", *args], cwd=ROOT, env=run_env,
                          capture_output=True, text=True, timeout=240)


def said(finished: subprocess.CompletedProcess) -> str:
    return finished.stdout[-2000:] + finished.stderr[-4000:]


def figure(output: str, label: str) -> float:
    found = re.search(rf"{re.escape(label)}\s+([\d.,]+)", output)
    assert found, f"no {label!r} in:\n{output}"
    return float(found.group(1).replace(",", ""))


def test_bench_sync_syncs_every_email_and_prints_the_call_rates(run_env):
    finished = bench(run_env, "sync", "--scale", "2x20", "--workers", "1", "--deliveries", "2", "--latency-ms", "10")
    assert finished.returncode == 0, said(finished)
    output = finished.stdout
    assert output.count("emails stored and decided") == 2  # without and with the added latency
    assert figure(output, "emails stored and decided") == 40
    assert figure(output, "Salesforce API calls") > 0 and figure(output, "Graph HTTP requests") > 0
    assert re.search(r"delivery -> Task\s+p50 [\d.]+ s, p95 [\d.]+ s over 2", output), output


def test_bench_sandbox_prints_calls_per_second_for_each_route(run_env):
    finished = bench(run_env, "sandbox", "--calls", "30", "--rounds", "1")
    assert finished.returncode == 0, said(finished)
    rates = re.findall(r"([\d,.]+) calls/s", finished.stdout)
    assert len(rates) >= 3 and all(float(rate.replace(",", "")) > 0 for rate in rates), finished.stdout


def test_bench_history_measures_every_tab_sort_and_search_on_sqlite(run_env):
    finished = bench(run_env, "history", "--rows", "2000", "--user-rows", "500", "--repeat", "1",
                     "--backends", "sqlite")
    summary = re.search(r"overall: (\d+) queries, p50 [\d.]+ ms, p95 [\d.]+ ms, max [\d.]+ ms; "
                        r"combinations over target: (\d+)", finished.stdout)
    assert summary, said(finished)
    assert int(summary.group(1)) >= 100  # every tab × sortable column × direction × search
    assert finished.returncode == int(summary.group(2)), said(finished)  # it exits with the misses
