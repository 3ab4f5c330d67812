"""The Spark job of `als train --engine spark`: reads an interactions file where Spark can read it,
applies als's input rules (src/data/rows.ts, read.ts, csv.ts, lines.ts), weights the counts as als does
(src/als/weighting.ts), trains Spark MLlib's implicit ALS and writes the factors, id maps and summed
counts as plain files into a local directory that the als process reads back (src/engines/spark/).

Run by als through spark-submit in client mode: this driver runs on the machine of als, so the
output directory is local to it, whatever the master. Nothing is handed back through stdout but
progress lines ("ALS-SPARK {json}"); a failure als should word is written to error.json.

Output directory (created by als, private, empty):
  result.json          what was read (rows, skipped, ...), shapes, Spark version, settings used
  user_ids.txt         user ids in row order, one a line (ids hold no line feed: the input rules)
  item_names.txt       item display names in row order, one a line
  user_factors.f32     users x factors, float32 little-endian, row-major
  item_factors.f32     items x factors, float32 little-endian, row-major
  pairs.i32            (user row, item row) of every summed count, int32 little-endian, sorted
  counts.f32           the summed count of each pair, float32 little-endian
  weights.f32          w(r) of each pair as Spark's rating (only with --write-weights)
  error.json           {"code": "input"|"usage", "message": ...} when the job refuses the input
"""

import argparse
import json
import math
import os
import re
import signal
import struct
import sys
import time
import unicodedata

MAX_COUNT = 1e15
MAX_LINE_BYTES = 1 << 20
SKIPPED_EXAMPLES = 5
# what String.prototype.trim drops (WhiteSpace and LineTerminator of ECMA-262); Python's strip()
# drops another set (\x1c-\x1f, \x85; not U+FEFF), so the set is spelled out
JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
COUNT_PATTERN = re.compile(r"^\+?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")
DIGIT = re.compile(r"[0-9]")
BAD_FIELD_CHARACTER = re.compile("[\0\t\n\ufffd]")
OVERLONG_REASON = f"line is longer than {MAX_LINE_BYTES} bytes"
PROGRESS = "ALS-SPARK "

# RowLayout of rows.ts: (item field, count field, fold case)
TRIPLES = (1, 2, False)
LASTFM = (2, 3, True)


class JobError(Exception):
    """A refusal als words as its own (code: input or usage)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def progress(stage, **extra):
    print(PROGRESS + json.dumps({"stage": stage, **extra}), flush=True)


def fround(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def canonical(text):
    return unicodedata.normalize("NFC", text).strip(JS_SPACE)


def parse_count(text):
    trimmed = text.strip(JS_SPACE)
    if not COUNT_PATTERN.match(trimmed):
        return math.nan
    value = float(trimmed)
    return value if value <= MAX_COUNT else math.nan


def cut(text):
    return text[:40] + "\u2026" if len(text) > 40 else text


def layout_of(fmt, count):
    if fmt == "lastfm":
        return LASTFM if count == 4 else None
    if fmt == "triples":
        return TRIPLES if count == 3 else None
    return TRIPLES if count == 3 else LASTFM if count == 4 else None


def expected_fields(fmt):
    return "4" if fmt == "lastfm" else "3" if fmt == "triples" else "3 or 4"


def row_problem(fields, layout):
    """rowProblem of rows.ts."""
    item, count, fold = layout
    for n, text in enumerate(fields):
        if BAD_FIELD_CHARACTER.search(text):
            if "\ufffd" in text:
                return f"field {n + 1} is not valid UTF-8 (or holds U+FFFD, the mark of text that was not)"
            what = "a NUL byte" if "\0" in text else "a tab" if "\t" in text else "a line break"
            return f"field {n + 1} holds {what}"
    if len(canonical(fields[0])) == 0:
        return "field 1 (user) is empty"
    if len(canonical(fields[item])) == 0:
        return f"field {item + 1} ({'artist name' if fold else 'item'}) is empty"
    if math.isnan(parse_count(fields[count])):
        text = fields[count]
        trimmed = text.strip(JS_SPACE)
        if COUNT_PATTERN.match(trimmed):
            return f"field {count + 1} (count) is {cut(trimmed)}, above the largest count als takes (1e15)"
        return f"field {count + 1} (count) is {json.dumps(cut(text), ensure_ascii=False)}, not a non-negative number"
    return None


def accept(fmt, fields, field_count, line, out):
    """RowAcceptor.accept: appends ('row', line, user, key, name, count), ('zero',) or ('skip', line, reason, 1)."""
    layout = layout_of(fmt, field_count)
    if layout is None:
        out.append(("skip", line, f"expected {expected_fields(fmt)} fields, found {field_count}", 1))
        return
    problem = row_problem(fields, layout)
    if problem is not None:
        out.append(("skip", line, problem, 1))
        return
    count = parse_count(fields[layout[1]])
    if fround(count) == 0:
        out.append(("zero",))
        return
    name = canonical(fields[layout[0]])
    out.append(("row", line, canonical(fields[0]), name.lower() if layout[2] else name, name, count))


def is_header(fmt, fields):
    layout = layout_of(fmt, len(fields))
    return layout is not None and not DIGIT.search(fields[layout[1]])


def judge_tsv(fmt, lines):
    """The rows of (line number, text) pairs of a lastfm/triples file, as lines.ts and read.ts judge them."""
    out = []
    for line, raw in lines:
        if len(raw.encode("utf-8")) > MAX_LINE_BYTES:
            out.append(("skip", line, OVERLONG_REASON, 1))
            continue
        text = raw[:-1] if raw.endswith("\r") else raw
        if line == 1 and text.startswith("\ufeff"):
            text = text[1:]
        if len(text) == 0:
            continue
        fields = text.split("\t")
        if line == 1 and is_header(fmt, fields):
            out.append(("header",))
            continue
        accept(fmt, fields, len(fields), line, out)
    return out


class CsvScanner:
    """csv.ts's forEachCsvRecord over lines (each ended by a line feed), one partition at a time.

    `in_quote`: the partition starts inside a quoted field that an earlier partition opened; the
    lines up to the end of that record are counted as skipped rows, as csv.ts counts a record that
    spans lines (one row per line). A record still open at the partition's end is counted the
    same way, so that every line is counted once.
    """

    def __init__(self, in_quote):
        self.fields = []
        self.field = []
        self.field_count = 0
        self.state = "quoted" if in_quote else "start"
        self.quoted = in_quote
        self.problem = None
        self.record_line = None
        self.record_bytes = 0
        self.spanning = in_quote  # the record began in an earlier partition

    def end_field(self):
        if len(self.fields) < 4:
            self.fields.append("".join(self.field))
        self.field_count += 1
        self.field = []
        self.quoted = False
        self.state = "start"

    def scan(self, lines, out):
        last = None
        for line, raw in lines:
            last = line
            if self.record_line is None:
                self.record_line = line
            text = raw[1:] if line == 1 and raw.startswith("\ufeff") else raw
            for ch in text + "\n":
                self.record_bytes += len(ch.encode("utf-8")) if ord(ch) > 127 else 1
                self.step(ch, line, out)
        if self.record_line is not None and last is not None:
            # a record still open here: a quote never closed (in the whole file, or in this partition)
            lines_spanned = last - self.record_line + 1
            out.append(("skip", self.record_line, f"quote never closed (lines {self.record_line}\u2013{last})", lines_spanned))
        return out

    def step(self, ch, line, out):
        while True:
            s = self.state
            if s in ("start", "unquoted"):
                if s == "start" and ch == '"':
                    self.state = "quoted"
                    self.quoted = True
                    return
                self.state = "unquoted"
                if ch == ",":
                    self.end_field()
                elif ch == "\n":
                    self.end_record(line, out)
                else:
                    self.field.append(ch)
                return
            if s == "quoted":
                if ch == '"':
                    self.state = "after"
                else:
                    self.field.append(ch)
                return
            # after a closing quote ("after"), or after one and a "\r" ("after_cr")
            if ch == "\n":
                self.end_record(line, out)
            elif s == "after" and ch == '"':
                self.field.append('"')
                self.state = "quoted"
            elif s == "after" and ch == ",":
                self.end_field()
            elif s == "after" and ch == "\r":
                self.state = "after_cr"
            else:
                if self.problem is None:
                    self.problem = f"field {self.field_count + 1} has text after its closing quote"
                if s == "after_cr":
                    self.field.append("\r")
                self.state = "unquoted"
                continue  # the character again, as data
            return

    def end_record(self, line, out):
        lines_spanned = line - self.record_line + 1
        self.record_bytes -= 1  # the line feed
        if self.state == "unquoted" and self.field and self.field[-1] == "\r":
            self.field.pop()
        empty = self.field_count == 0 and not self.field and not self.quoted and self.state not in ("after", "after_cr")
        self.end_field()
        if lines_spanned > 1 or self.spanning:
            which = next((n for n, t in enumerate(self.fields) if "\n" in t), -1)
            where = f"field {which + 1}" if which >= 0 else "a quoted field"
            out.append(("skip", self.record_line, f"{where} holds a line break (lines {self.record_line}\u2013{line})", lines_spanned))
        elif self.record_bytes > MAX_LINE_BYTES:
            out.append(("skip", self.record_line, OVERLONG_REASON, 1))
        elif not empty:
            if self.problem is not None:
                out.append(("skip", self.record_line, self.problem, 1))
            elif self.record_line == 1 and is_header("csv", self.fields) and self.field_count == len(self.fields):
                out.append(("header",))
            else:
                accept("csv", self.fields, self.field_count, self.record_line, out)
        self.fields = []
        self.field_count = 0
        self.field = []
        self.record_bytes = 0
        self.problem = None
        self.quoted = False
        self.state = "start"
        self.record_line = None
        self.spanning = False


def quote_state_after(lines, in_quote):
    """Whether a partition starting in (or out of) a quoted field ends inside one (csv)."""
    state = "quoted" if in_quote else "start"
    for line, raw in lines:
        for ch in raw + "\n":
            if state in ("start", "unquoted"):
                if state == "start" and ch == '"':
                    state = "quoted"
                elif ch in ",\n":
                    state = "start"
                else:
                    state = "unquoted"
            elif state == "quoted":
                if ch == '"':
                    state = "after"
            else:  # after a closing quote (a "\r" after it changes nothing that matters here)
                if ch == '"' and state == "after":
                    state = "quoted"
                elif ch in ",\n":
                    state = "start"
                elif ch == "\r" and state == "after":
                    state = "after_cr"
                else:
                    state = "unquoted"
    return state == "quoted"


def read_rows(spark, path, fmt):
    """The judged rows of the file as an RDD, and the statistics of the read."""
    try:
        text = spark.read.option("lineSep", "\n").text(path)
        numbered = text.rdd.map(lambda r: r[0]).zipWithIndex().map(lambda p: (p[1] + 1, p[0]))
        numbered.cache()
        first = numbered.take(1)
    except Exception as error:  # noqa: BLE001 - Spark's own errors, worded below
        raise JobError("input", f"{path}: Spark cannot read it ({first_line(error)})") from error
    if first:
        head = first[0][1][:1024]
        # source.ts's utf16Problem: a UTF-16 byte order mark (FF FE or FE FF, each byte not UTF-8),
        # or NUL bytes in an eighth of the first kilobyte
        if head.startswith("\ufffd\ufffd") or ("\0" in head and 8 * head.count("\0") >= len(head)):
            raise JobError("input", f"{os.path.basename(path)}: looks like UTF-16; save it as UTF-8")
    if fmt == "csv":
        # where each partition starts: inside a quoted field or not (chained over the partitions)
        def ends(start):
            return dict(numbered.mapPartitionsWithIndex(lambda i, it: [(i, quote_state_after(it, start))]).collect())

        fresh, quoted = ends(False), ends(True)
        starts = {}
        inside = False
        for i in sorted(fresh):
            starts[i] = inside
            inside = quoted[i] if inside else fresh[i]
        starts_b = spark.sparkContext.broadcast(starts)
        judged = numbered.mapPartitionsWithIndex(lambda i, it: CsvScanner(starts_b.value[i]).scan(it, []))
    else:
        judged = numbered.mapPartitions(lambda it: judge_tsv(fmt, it))
    return numbered, judged


def first_line(error):
    text = str(error).strip().split("\n")[0]
    return text[:300]


def read_input(spark, args, path, fmt):
    """Reads `path` by als's rules: (stats, pairs DataFrame (u, i, r), users (user, u), items (key, i, name))."""
    from pyspark.sql import functions as F
    from pyspark.sql import Window
    from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

    numbered, judged = read_rows(spark, path, fmt)
    judged.cache()
    try:
        tally = judged.map(lambda r: (r[0], r[3] if r[0] == "skip" else 1)).reduceByKey(lambda a, b: a + b).collectAsMap()
    except Exception as error:  # noqa: BLE001
        raise JobError("input", f"{path}: Spark cannot read it ({first_line(error)})") from error
    skipped = tally.get("skip", 0)
    used = tally.get("row", 0)
    zero = tally.get("zero", 0)
    header = tally.get("header", 0) > 0
    examples = judged.filter(lambda r: r[0] == "skip").map(lambda r: (r[1], r[2])).takeOrdered(SKIPPED_EXAMPLES, key=lambda p: p[0])
    lines = numbered.count()
    name = os.path.basename(path.rstrip("/")) or path
    if args.strict and skipped > 0:
        line, reason = examples[0]
        raise JobError("input", f"{name}, line {line}: {reason} (--strict stops at the first bad row)")
    if used == 0:
        if lines == 0:
            raise JobError("input", f"{name}: the file is empty")
        where = ", ".join(str(l) for l, _ in examples)
        first = f"; line {examples[0][0]}: {examples[0][1]}" if examples else ""
        raise JobError("input", f"{name}: no usable row ({skipped + zero} rows, {skipped} malformed{f' at lines {where}' if where else ''}, {zero} with count 0{first})")

    schema = StructType(
        [
            StructField("line", LongType()),
            StructField("user", StringType()),
            StructField("key", StringType()),
            StructField("name", StringType()),
            StructField("count", DoubleType()),
        ]
    )
    rows = spark.createDataFrame(judged.filter(lambda r: r[0] == "row").map(lambda r: r[1:]), schema)
    rows.cache()
    # ids by first appearance, as IdMap interns them
    users = rows.groupBy("user").agg(F.min("line").alias("first"))
    users = users.withColumn("u", (F.row_number().over(Window.orderBy("first")) - 1).cast("int")).select("user", "u")
    items = rows.groupBy("key").agg(F.min("line").alias("first"))
    items = items.withColumn("i", (F.row_number().over(Window.orderBy("first")) - 1).cast("int")).select("key", "i")
    # the display name: the most frequent spelling, ties to the one seen first (SpellingTally)
    spellings = rows.groupBy("key", "name").agg(F.count(F.lit(1)).alias("n"), F.min("line").alias("first"))
    best = Window.partitionBy("key").orderBy(F.desc("n"), F.asc("first"))
    names = spellings.withColumn("rank", F.row_number().over(best)).filter("rank = 1").select("key", "name")
    items = items.join(names, "key")
    # counts are float32 in als (the reader stores each row's count as float32, then sums)
    pairs = (
        rows.join(users, "user")
        .join(items.select("key", "i"), "key")
        .withColumn("c", F.col("count").cast("float").cast("double"))
        .groupBy("u", "i")
        .agg(F.sum("c").alias("r"))
        .withColumn("r", F.col("r").cast("float").cast("double"))
    )
    pairs.cache()
    # one Spark job for the four numbers (every user and item has at least one pair)
    sizes = pairs.agg(
        F.countDistinct("u").alias("users"), F.countDistinct("i").alias("items"), F.count(F.lit(1)).alias("nnz"), F.max("r").alias("largest")
    ).collect()[0]
    n_users, n_items, nnz = sizes["users"], sizes["items"], sizes["nnz"]
    if sizes["largest"] > MAX_COUNT:
        raise JobError("input", f"{name}: the counts of one user and item add up to {sizes['largest']:.3g}, above the largest count als takes (1e15)")
    stats = {
        "rows": used + skipped + zero,
        "used": used,
        "skipped": skipped,
        "skippedExamples": [{"line": l, "reason": r} for l, r in examples],
        "zeroCounts": zero,
        "duplicates": used - nnz,
        "header": header,
        "lines": lines,
        "users": n_users,
        "items": n_items,
        "interactions": nnz,
    }
    return stats, pairs, users, items


def weigh(pairs, args, weighting, n_items):
    """The pairs with w(r) as Spark's rating (weighting.ts), checked against the largest confidence."""
    from pyspark.sql import functions as F

    if weighting == "linear":
        weighted = pairs.withColumn("w", F.col("r"))
    elif weighting == "log":
        weighted = pairs.withColumn("w", F.log1p("r"))
    else:
        k1, b = args.bm25_k1, args.bm25_b
        totals = pairs.groupBy("i").agg(F.sum("r").alias("total"))
        average = totals.agg(F.sum("total")).collect()[0][0] / n_items
        per_user = pairs.groupBy("u").agg(F.count(F.lit(1)).alias("n_u"))
        idf = F.greatest(F.lit(0.0), F.lit(math.log(n_items)) - F.log1p(F.col("n_u")))
        norm = F.lit(1 - b) + F.lit(b) * F.col("total") / F.lit(average)
        weighted = (
            pairs.join(totals, "i")
            .join(per_user, "u")
            .withColumn("w", F.col("r") * (k1 + 1) / (F.lit(k1) * norm + F.col("r")) * idf)
            .select("u", "i", "r", "w")
        )
    # Spark's rating is a float: w as float32, so that 1 + α·w is the confidence of als's float32
    weighted = weighted.withColumn("w", F.col("w").cast("float"))
    weighted.cache()
    largest = weighted.agg(F.max("w")).collect()[0][0]
    if 1 + args.alpha * largest > args.max_confidence:
        raise JobError(
            "input",
            f"the largest w(r) {largest:.3g} with alpha {args.alpha:g} and weighting {weighting} gives the confidence "
            f"1 + \u03b1\u00b7w(r) = {1 + args.alpha * largest:.3g}, above the {args.max_confidence:g} that training's float32 arithmetic carries",
        )
    return weighted


def spark_lambda(args, users, items, nnz):
    """λ for Spark's λ·n_u (ALS-WR) from als's λ (src/engines/spark/settings.ts documents the rule)."""
    if args.regularization == "frequency":
        return args.reg
    # constant λ: the same total weight of regularization, Σ λ_s·n_u + Σ λ_s·n_i = 2·λ_s·nnz = λ·(users + items)
    return args.reg * (users + items) / (2.0 * nnz)


def write_lines(path, values):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for v in values:
            f.write(v)
            f.write("\n")


def local_rows(df, count, row_bytes):
    """The rows of df on the driver, in no particular order, about 64 MB of them at a time.

    toLocalIterator runs one Spark job per partition: the shuffle's partitions for a small model
    were a dozen jobs per table (most of a small job's time), while one partition of all the rows
    would hold a large model's table in the driver at once."""
    parts = max(1, math.ceil(count * row_bytes / (64 << 20)))
    return df.coalesce(parts).toLocalIterator()


def collect_factors(df, count, rank, path):
    import numpy as np

    out = np.zeros((count, rank), dtype="<f4")
    seen = np.zeros(count, dtype=bool)
    for row in local_rows(df, count, 4 * rank + 16):
        out[row["id"]] = row["features"]
        seen[row["id"]] = True
    if not seen.all():
        raise RuntimeError(f"Spark returned factors for {int(seen.sum())} of {count} rows")
    out.tofile(path)


def collect_names(df, column, index, count, path):
    """Writes df's `column` one per line in the order of its `index` column (0 … count - 1)."""
    names = [None] * count
    for row in local_rows(df.select(column, index), count, 64):
        names[row[index]] = row[column]
    if any(name is None for name in names):
        raise RuntimeError(f"Spark returned {count - names.count(None)} of {count} names for {os.path.basename(path)}")
    write_lines(path, names)


def collect_pairs(df, nnz, out):
    """Writes pairs.i32 (user and item rows) and counts.f32 of df's (u, i, r), sorted by user, then item."""
    import numpy as np

    us = np.zeros(nnz, dtype="<i4")
    its = np.zeros(nnz, dtype="<i4")
    counts = np.zeros(nnz, dtype="<f4")
    n = 0
    for r in local_rows(df, nnz, 24):
        if n < nnz:
            us[n], its[n], counts[n] = r["u"], r["i"], r["r"]
        n += 1
    if n != nnz:
        raise RuntimeError(f"Spark returned {n} pairs, not {nnz}")
    # sorted here rather than by a Spark sort (its sampling job and shuffle)
    order = np.lexsort((its, us))
    np.stack((us[order], its[order]), axis=1).tofile(os.path.join(out, "pairs.i32"))
    counts[order].tofile(os.path.join(out, "counts.f32"))


def describe(spark, args):
    """--describe: reads each input by the rules and reports the statistics (and weights), no training."""
    import numpy as np

    report = []
    for n, (path, fmt) in enumerate(zip(args.input, args.format)):
        try:
            stats, pairs, users, items = read_input(spark, args, path, fmt)
        except JobError as error:
            report.append({"input": path, "error": {"code": error.code, "message": str(error)}})
            continue
        if args.write_weights:
            out = os.path.join(args.out, str(n))
            os.mkdir(out, 0o700)
            # as train brings them back, so that the test of the input rules checks that too
            collect_names(users, "user", "u", stats["users"], os.path.join(out, "user_ids.txt"))
            collect_names(items, "name", "i", stats["items"], os.path.join(out, "item_names.txt"))
            collect_pairs(pairs.select("u", "i", "r"), stats["interactions"], out)
            for weighting in ("linear", "log", "bm25"):
                w = weigh(pairs, args, weighting, stats["items"]).orderBy("u", "i").collect()
                np.array([r["w"] for r in w], dtype="<f4").tofile(os.path.join(out, f"weights.{weighting}.f32"))
        report.append({"input": path, "stats": stats})
    with open(os.path.join(args.out, "result.json"), "w", encoding="utf-8") as f:
        json.dump({"describe": report, "sparkVersion": spark.version}, f)


def train(spark, args):
    from pyspark.ml.recommendation import ALS

    started = time.time()
    progress("read")
    path, fmt = args.input[0], args.format[0]
    stats, pairs, users, items = read_input(spark, args, path, fmt)
    weighted = weigh(pairs, args, args.weighting, stats["items"])
    read_seconds = time.time() - started
    if os.environ.get("ALS_TEST_KILL_AT") == "spark-after-read":
        # the crash tests' hook (src/model/killPoint.ts): a job that dies half-way, as a lost driver would
        os.kill(os.getpid(), signal.SIGKILL)
    reg = spark_lambda(args, stats["users"], stats["items"], stats["interactions"])
    progress("train", users=stats["users"], items=stats["items"], interactions=stats["interactions"], regParam=reg)
    trained = time.time()
    als = ALS(
        rank=args.factors,
        maxIter=args.iterations,
        regParam=reg,
        alpha=args.alpha,
        implicitPrefs=True,
        nonnegative=False,
        seed=args.seed,
        userCol="u",
        itemCol="i",
        ratingCol="w",
    )
    model = als.fit(weighted.select("u", "i", "w"))
    # fit is lazy about the factors' last step: collecting them finishes the training
    progress("collect")
    collect_factors(model.userFactors, stats["users"], args.factors, os.path.join(args.out, "user_factors.f32"))
    collect_factors(model.itemFactors, stats["items"], args.factors, os.path.join(args.out, "item_factors.f32"))
    train_seconds = time.time() - trained
    collect_names(users, "user", "u", stats["users"], os.path.join(args.out, "user_ids.txt"))
    collect_names(items, "name", "i", stats["items"], os.path.join(args.out, "item_names.txt"))
    collect_pairs(weighted.select("u", "i", "r"), stats["interactions"], args.out)
    result = {
        "stats": stats,
        "sparkVersion": spark.version,
        "master": spark.sparkContext.master,
        "applicationId": spark.sparkContext.applicationId,
        "settings": {
            "rank": args.factors,
            "maxIter": args.iterations,
            "regParam": reg,
            "alpha": args.alpha,
            "implicitPrefs": True,
            "seed": args.seed,
            "rating": f"w(r), weighting {args.weighting}",
            "regularization": args.regularization,
        },
        "seconds": {"read": read_seconds, "train": train_seconds},
    }
    with open(os.path.join(args.out, "result.json"), "w", encoding="utf-8") as f:
        json.dump(result, f)
    progress("done")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", action="append", required=True)
    parser.add_argument("--format", action="append", required=True, choices=["lastfm", "triples", "csv"])
    parser.add_argument("--out", required=True)
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--reg", type=float, default=10.0)
    parser.add_argument("--regularization", choices=["constant", "frequency"], default="constant")
    parser.add_argument("--alpha", type=float, default=2.0)
    parser.add_argument("--weighting", choices=["linear", "log", "bm25"], default="log")
    parser.add_argument("--bm25-k1", type=float, default=100.0)
    parser.add_argument("--bm25-b", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-confidence", type=float, default=1e9)
    parser.add_argument("--describe", action="store_true")
    parser.add_argument("--write-weights", action="store_true")
    args = parser.parse_args()
    if len(args.input) != len(args.format):
        parser.error("give one --format per --input")

    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("als train").getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("ALS_SPARK_LOG_LEVEL", "WARN"))
    if spark.sparkContext.getConf().get("spark.sql.shuffle.partitions", None) is None:
        # Spark's 200 make hundreds of tiny tasks (and hundreds of collection jobs) on a small
        # cluster; a few per core suffice, and a cluster's own setting is kept
        spark.conf.set("spark.sql.shuffle.partitions", str(max(2, 2 * spark.sparkContext.defaultParallelism)))
    code = 0
    try:
        if args.describe:
            describe(spark, args)
        else:
            train(spark, args)
    except JobError as error:
        with open(os.path.join(args.out, "error.json"), "w", encoding="utf-8") as f:
            json.dump({"code": error.code, "message": str(error)}, f)
        code = 3
    finally:
        spark.stop()
    sys.exit(code)


if __name__ == "__main__":
    main()
