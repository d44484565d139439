"""How the gallery's costs grow from 1,000 to 1,000,000 indexed images.

Builds (once, cached) trees of 1k, 100k and 1M PNGs as hardlinks of ``bench/gallery.py``'s 100k tree (its real
ComfyUI prompt chunks), laid out alike: 100 folders, so a folder holds 10, 1,000 or 10,000 files. For each size:

- the index build: ``scan()`` into a fresh database, as the server's first start does (target for 1M: < 120 s);
- a real ComfyUI with CozyGen started on that tree and that database (its start-up scan finds nothing new), then
  CozyGen's own time (its Server-Timing header), median of ``--runs``, for: gallery page 1 flat (a folder),
  page 1 of the root (folders with their tiles), page 1 recursive, and a prompt search (recursive);
- a first search (its count and page 1, as a new search costs before the count is cached), read in this process
  from the same database with CozyGen's own query code;
- the server's resident memory once indexed; the memory the index adds is the 1M server's less the 1k one's
  (target < 200 MB).

The target: each page and the search at 1M within 2x of the same at 1k.

    python3 bench/scale.py [--sizes 1000,100000,1000000] [--runs 30]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "scripts"))
sys.path.insert(0, str(PROJECT / "tests"))
sys.path.insert(0, str(PROJECT / "bench"))

import comfyui_host  # noqa: E402

SOURCE_FILES = 100_000
FOLDERS = 100
QUERIES = {
    "page 1, flat (one folder)": "/cozygen/api/gallery?subfolder=f007&per_page=50",
    "page 1, the root (folders and tiles)": "/cozygen/api/gallery?per_page=50",
    "page 1, recursive": "/cozygen/api/gallery?recursive=true&per_page=50",
    "prompt search 'dragon castle', recursive": "/cozygen/api/gallery?recursive=true&per_page=50&search=dragon+castle",
    "prompt search 'nebula', recursive": "/cozygen/api/gallery?recursive=true&per_page=50&search=nebula",
    "prompt search, a rare match, recursive": "/cozygen/api/gallery?recursive=true&per_page=50"
    "&search=dragon+castle+nebula+wolf",
}
SEARCHES = ("dragon castle", "nebula", "dragon castle nebula wolf")


def source_tree() -> Path:
    from gallery import build_tree

    return build_tree(comfyui_host.cache_root() / f"bench-gallery-{SOURCE_FILES}", SOURCE_FILES)


def scale_tree(size: int) -> Path:
    """``size`` hardlinks of the source tree's generated files, in its 100 folders (built once, under a lock)."""
    root = comfyui_host.cache_root() / f"bench-scale-{size}"
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"bench-scale-{size}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        output, marker = root / "output", root / "complete"
        if marker.exists():
            return output
        source = source_tree()
        started = time.perf_counter()
        for n in range(size):
            copy, original = divmod(n, SOURCE_FILES)
            folder = f"f{original % FOLDERS:03}"
            target = output / folder / f"ComfyUI_{original:06}_{copy}.png"
            if n < FOLDERS:
                target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source / folder / f"ComfyUI_{original:06}_.png", target)
            except FileExistsError:
                pass
        marker.touch()
        print(f"linked {size:,} files in {time.perf_counter() - started:.1f} s under {output}", flush=True)
        return output


def build_index(output: Path, database: Path) -> float:
    from support import import_project_as

    import_project_as("cozygen")
    from cozygen.core.gallery.service import SCAN_WORKERS
    from cozygen.core.gallery.sync import scan
    from cozygen.core.store.db import Database
    from cozygen.core.store.migrations import MIGRATIONS

    db = Database(database)
    db.open(MIGRATIONS)
    started = time.perf_counter()
    report = scan(db, "output", output, workers=SCAN_WORKERS)
    seconds = time.perf_counter() - started
    db.close()
    assert report.files >= len(os.listdir(output)), report
    return seconds


def first_searches(database: Path, runs: int) -> dict[str, float]:
    """A new search's cost: its count and its first page, median of ``runs`` (the counts cache is the server's)."""
    import sqlite3

    from cozygen.core.gallery.query import FileQuery, count_files, list_files

    conn = sqlite3.connect(database)
    conn.row_factory = sqlite3.Row
    figures = {}
    for text in SEARCHES:
        query, times = FileQuery(recursive=True, search=text), []
        for _ in range(runs):
            started = time.perf_counter()
            count_files(conn, query)
            list_files(conn, query, limit=50)
            times.append((time.perf_counter() - started) * 1000)
        figures[f"first search '{text}' (count + page 1)"] = statistics.median(times)
    conn.close()
    return figures


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def measure(size: int, runs: int) -> dict[str, float]:
    from gallery import start_on, wait_indexed
    from support import get

    output = scale_tree(size)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as base:
        base_path = Path(base)
        (base_path / "frontend").mkdir()
        (base_path / "frontend" / "index.html").write_text("bench")
        data = base_path / "comfy-tree" / "user" / "cozygen"
        data.mkdir(parents=True)
        figures["build"] = build_index(output, data / "cozygen.sqlite3")
        print(f"{size:>9,}  index build {figures['build']:8.2f} s", flush=True)
        for name, ms in first_searches(data / "cozygen.sqlite3", max(3, runs // 4)).items():
            figures[name] = ms
            print(f"{size:>9,}  {name:<56} {ms:8.2f} ms", flush=True)
        server = start_on(base_path, output)
        try:
            status = wait_indexed(server.url, timeout=900)
            time.sleep(2)
            figures["rss"] = resident_mb(server.process.pid)
            print(
                f"{size:>9,}  start-up rescan {status['scans']['output']['seconds']:.2f} s, "
                f"resident {figures['rss']:.0f} MB",
                flush=True,
            )
            for name, path in QUERIES.items():
                times = []
                for n in range(runs + 3):
                    response = get(server.url + path)
                    assert response.status == 200, (path, response.status, response.text)
                    if n >= 3:  # the first few warm SQLite's page cache
                        times.append(float(response.headers["Server-Timing"].split("dur=")[1]))
                figures[name] = statistics.median(times)
                total = response.json().get("total_items")
                print(f"{size:>9,}  {name:<56} {figures[name]:8.2f} ms  ({total:,} items)", flush=True)
        finally:
            server.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    comfyui_host.run_in_venv(__file__)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {size: measure(size, args.runs) for size in sizes}

    small, large = min(sizes), max(sizes)
    print(f"\nCozyGen at scale: {large:,} against {small:,} indexed images (CozyGen's time per request, median)")
    for name in [*QUERIES, *(n for n in results[small] if n.startswith("first search"))]:
        row = "  ".join(f"{results[s][name]:7.2f} ms" for s in sizes)
        ratio = results[large][name] / results[small][name]
        print(f"{name:<56} {row}  {ratio:5.2f}x  target <= 2x  {'OK' if ratio <= 2 else 'MISSED'}")
    build = results[large]["build"]
    print(f"{'index build':<56} " + "  ".join(f"{results[s]['build']:7.1f} s " for s in sizes), end="")
    if large >= 1_000_000:
        print(f"  target < 120 s at 1M  {'OK' if build < 120 else 'MISSED'}")
    else:
        print()
    added = results[large]["rss"] - results[small]["rss"]
    print(
        f"{'resident memory of the server':<56} "
        + "  ".join(f"{results[s]['rss']:7.0f} MB" for s in sizes)
        + f"  added {added:.0f} MB  target < 200 MB  {'OK' if added < 200 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
