"""The interviewers' web app: page latency and memory for a round of N candidates.

    .venv/bin/python bench/web_bench.py [--candidates 100] [--repeat 5]

Builds a round of N distinct results (the realistic strong/weak/failed results of the report
tests, each with its own content hash, stored as a batch stores them), then requests the main
pages in-process through Starlette's TestClient (no network: the figures are the app's own
work) and prints the median and worst latency of each page, cold (first request after start)
and warm, plus the process's resident memory before and after.

Goals: the round table and a candidate page under 1 s warm for 100 candidates; memory growth
under 300 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))


def rss_mb() -> float:
    """Resident memory of this process (MB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build_round(folder: Path, n: int) -> None:
    from fixtures.report_samples import make_result
    from fixtures.web_samples import add_to_round

    kinds = [make_result(k) for k in ("strong", "weak", "failed")]
    for i in range(n):
        result = kinds[i % 3].model_copy(deep=True)
        result.submission.name = f"candidate-{i:04d}"
        result.submission.content_hash = "sha256:" + hashlib.sha256(str(i).encode()).hexdigest()
        add_to_round(folder, result, folder_name=f"c{i:04d}")


def timed(client, path: str, repeat: int) -> tuple[float, float, float]:
    """(cold, warm median, warm worst) seconds for GET ``path``."""
    start = time.perf_counter()
    response = client.get(path)
    cold = time.perf_counter() - start
    assert response.status_code == 200, (path, response.status_code)
    warm = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(path)
        warm.append(time.perf_counter() - start)
    return cold, statistics.median(warm), max(warm)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from fixtures.web_samples import PASSWORD, login
    from starlette.testclient import TestClient

    from harness.web import WebSettings, create_app

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "rounds" / "bench"
        folder.mkdir(parents=True)
        build_round(folder, args.candidates)
        before = rss_mb()
        app = create_app([folder.parent], extensions=[],
                         settings=WebSettings(accounts_path=Path(tmp) / "web.sqlite"))
        app.state.web.accounts.add_user("bench", PASSWORD)
        with TestClient(app) as client:
            login(client, "bench")
            ids = [c.id for c in app.state.web.rounds["bench"].candidates()]
            pages = {
                "round table": "/rounds/bench",
                "round table, sorted and filtered": "/rounds/bench?sort=tests&flags=any",
                "candidate page": f"/rounds/bench/c/{ids[1]}",
                "report (framed)": f"/rounds/bench/c/{ids[1]}/report",
                "compare 3": f"/rounds/bench/compare?c={ids[0]}&c={ids[1]}&c={ids[2]}",
                "audit log": "/rounds/bench/audit",
                "CSV export": "/rounds/bench/export.csv",
            }
            print(f"{args.candidates} candidates, {args.repeat} warm requests per page")
            print(f"{'page':36} {'cold s':>8} {'warm median s':>14} {'warm worst s':>13}")
            for label, path in pages.items():
                cold, median, worst = timed(client, path, args.repeat)
                print(f"{label:36} {cold:8.3f} {median:14.3f} {worst:13.3f}")
        after = rss_mb()
        print(f"resident memory: {before:.0f} MB before the app, {after:.0f} MB after "
              f"(+{after - before:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
