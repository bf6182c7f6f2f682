"""Peak memory and time of reading two 1 MB gzip IDX files that inflate to 1 GiB.

    python benchmarks/idx_bomb.py [--mib 1024]

"small header": the header declares 1000 bytes, the stream holds 1 GiB of zeros
after it (a decompression bomb: it must be refused). "honest header": the header
declares the 1 GiB the stream holds (a valid file, however large). Each read runs
in a fresh interpreter, which reports its peak resident set (``ru_maxrss``); the
first line gives that of an interpreter that only imported barenet.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

_READ = """
import resource, sys, time
from barenet.data import read_idx
t = time.perf_counter()
try:
    a = read_idx(sys.argv[1])
    what = f"accepted {a.shape}"
except ValueError as e:
    what = f"refused: {str(e).split(': ', 1)[1][:90]}"
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{time.perf_counter() - t:6.2f} s  peak {peak:6.0f} MiB  {what}")
"""


def _gzip(declared: int, zeros: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [c.compress(bytes([0, 0, 8, 1]) + declared.to_bytes(4, "big"))]
    block = bytes(2**24)
    parts += [c.compress(block) for _ in range(zeros // len(block))]
    return b"".join(parts) + c.flush()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mib", type=int, default=1024, help="inflated size in MiB")
    zeros = p.parse_args().mib * 2**20
    with tempfile.TemporaryDirectory() as d:
        files = {
            "small header": Path(d) / "small.gz",
            "honest header": Path(d) / "honest.gz",
        }
        files["small header"].write_bytes(_gzip(1000, zeros))
        files["honest header"].write_bytes(_gzip(zeros, zeros))
        base = "import resource, barenet; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        kib = int(subprocess.run([sys.executable, "-c", base], capture_output=True).stdout)
        print(f"import barenet alone: peak {kib / 1024:.0f} MiB")
        for name, path in files.items():
            r = subprocess.run([sys.executable, "-c", _READ, str(path)], capture_output=True)
            size = path.stat().st_size / 2**20
            out = r.stdout.decode().strip() or r.stderr.decode().strip().splitlines()[-1]
            print(f"{name:13s} ({size:.1f} MiB file): {out}")


if __name__ == "__main__":
    main()
