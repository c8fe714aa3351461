"""One of the concurrent readers: reads random ranges of a mounted .raw or
.npy and compares them with the expected values. Exit 0 and print "ok" if
every byte matches."""

import os
import random
import sys

import numpy as np

path, expected, dtype, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
data = np.load(expected).astype(np.dtype(dtype)).tobytes()
rng = random.Random(seed)
with open(path, "rb") as f:
    fd = f.fileno()
    size = os.fstat(fd).st_size
    header = size - len(data)
    assert header >= 0
    for _ in range(300):
        off = rng.randrange(len(data))
        n = rng.randrange(1, min(len(data) - off, 1 << 20) + 1)
        got = os.pread(fd, n, header + off)
        if got != data[off:off + n]:
            sys.exit(f"mismatch at {off}+{n} in {path}")
    # And one sequential pass.
    f.seek(header)
    if f.read() != data:
        sys.exit(f"sequential read of {path} differs")
print("ok")
