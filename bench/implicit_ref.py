"""The reference side of `npm run bench`: the Python library implicit on the same file.

Runs as an implicit user would: pandas reads the Last.fm-shaped TSV (user, item id, item name,
plays; bad rows skipped), the ids become category codes, scipy builds the CSR matrix, the plays
are weighted as als weights them by default (log: 1 + alpha * log(1 + plays)), and
AlternatingLeastSquares fits it. Prints one JSON object of seconds (and peak RSS) on stdout.

usage: python3 bench/implicit_ref.py FILE [--factors 64] [--iterations 15] [--threads 2]
           [--solver cg|cholesky] [--alpha 2] [--regularization 10] [--all]
(--all: also recommend for every user and find similar items for every item, batched)
"""
import argparse
import json
import os
import resource
import time

STARTED = time.perf_counter()

# implicit reads its thread count from here too; set before numpy/implicit load BLAS
parser = argparse.ArgumentParser()
parser.add_argument("file")
parser.add_argument("--factors", type=int, default=64)
parser.add_argument("--iterations", type=int, default=15)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--solver", choices=["cg", "cholesky"], default="cg")
parser.add_argument("--alpha", type=float, default=2.0)
parser.add_argument("--regularization", type=float, default=10.0)
parser.add_argument("--all", action="store_true")
args = parser.parse_args()
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sparse  # noqa: E402
from implicit.cpu.als import AlternatingLeastSquares  # noqa: E402

seconds = {"imports": time.perf_counter() - STARTED}

# --- read + matrix ---------------------------------------------------------------------------
t = time.perf_counter()
frame = pd.read_csv(
    args.file,
    sep="\t",
    header=None,
    names=["user", "mbid", "item", "plays"],
    dtype={"user": str, "mbid": str, "item": str, "plays": str},
    quoting=3,  # csv.QUOTE_NONE: the file's quotes are part of names
    on_bad_lines="skip",
    keep_default_na=False,
)
frame["plays"] = pd.to_numeric(frame["plays"], errors="coerce")
frame = frame[(frame["plays"] > 0) & (frame["user"] != "") & (frame["item"] != "")]
users = frame["user"].astype("category")
items = frame["item"].astype("category")
plays = sparse.coo_matrix(
    (frame["plays"].to_numpy(dtype=np.float32), (users.cat.codes.to_numpy(), items.cat.codes.to_numpy())),
    shape=(len(users.cat.categories), len(items.cat.categories)),
).tocsr()
plays.sum_duplicates()
confidence = plays.copy()
confidence.data = (1 + args.alpha * np.log1p(confidence.data)).astype(np.float32)
seconds["read"] = time.perf_counter() - t

# --- fit ---------------------------------------------------------------------------------------
model = AlternatingLeastSquares(
    factors=args.factors,
    regularization=args.regularization,
    alpha=1.0,
    iterations=args.iterations,
    use_cg=args.solver == "cg",
    num_threads=args.threads,
    calculate_training_loss=False,
    random_state=1,
)
t = time.perf_counter()
model.fit(confidence, show_progress=False)
seconds["fit"] = time.perf_counter() - t
seconds["perIteration"] = seconds["fit"] / args.iterations

# --- batched queries over every row ------------------------------------------------------------
if args.all:
    t = time.perf_counter()
    model.recommend(np.arange(plays.shape[0]), plays, N=10, filter_already_liked_items=True)
    seconds["recommendAll"] = time.perf_counter() - t
    t = time.perf_counter()
    model.similar_items(np.arange(plays.shape[1]), N=11)
    seconds["similarAll"] = time.perf_counter() - t

seconds["process"] = time.perf_counter() - STARTED


def peak_rss_bytes():
    """VmHWM of this process (Linux): ru_maxrss starts from the spawning process's size."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


print(json.dumps({
    "users": plays.shape[0],
    "items": plays.shape[1],
    "interactions": int(plays.nnz),
    "seconds": seconds,
    "peakRssBytes": peak_rss_bytes(),
}))
