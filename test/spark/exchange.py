"""The Spark side of test/sparkExchange.test.ts, in one Spark session (Spark starts slowly).

argv[1] is JSON: {"exported": DIR, "exportedParts": DIR, "saved": DIR, "ids": DIR}
 - exported: an als model exported with `als export --format spark`: loaded with ALSModel.load,
   recommendForAllUsers(10), mapped back to names through its userIds/ and itemIds/ tables;
 - exportedParts: the same model exported in part files of a few rows each;
 - saved: where a small implicit ALS trained here is saved with model.save();
 - ids: where id tables for that model (userIds/, itemIds/: id int, name string) are written.
Prints one line "ALS-RESULT {json}" with the recommendations, the saved model's item factors and
its rank.
"""
import json
import sys
import time

started = time.time()
seconds = {}

from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import SparkSession

config = json.loads(sys.argv[1])
spark = (
    SparkSession.builder.master("local[1]")
    .appName("als-exchange-test")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "2")
    .config("spark.default.parallelism", "2")
    .config("spark.driver.memory", "512m")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
result = {"sparkVersion": spark.version}
seconds["start"] = time.time() - started

# 1. the model als exported, as Spark sees it
exported = config["exported"]
model = ALSModel.load(exported)
users = {r["id"]: r["name"] for r in spark.read.parquet(exported + "/userIds").collect()}
items = {r["id"]: r["name"] for r in spark.read.parquet(exported + "/itemIds").collect()}
result["exportedRank"] = model.rank
recommend = {}
for row in model.recommendForAllUsers(10).collect():
    recommend[users[row["user"]]] = [[items[r["item"]], float(r["rating"])] for r in row["recommendations"]]
result["recommend"] = recommend
# the same model exported in many small part files
parts = ALSModel.load(config["exportedParts"])
result["recommendParts"] = {
    row["user"]: [[r["item"], float(r["rating"])] for r in row["recommendations"]] for row in parts.recommendForAllUsers(10).collect()
}

seconds["exported"] = time.time() - started - sum(seconds.values())

# 2. a model Spark trains and saves: 3 groups of users, each playing its own group of items
rows = []
for u in range(60):
    group = u % 3
    for i in range(45):
        if i % 3 == group and (u * 7 + i * 13) % 5 != 0:
            rows.append((u + 1000, i + 500, float(1 + (u + i) % 9)))
        elif (u * 11 + i * 17) % 23 == 0:
            rows.append((u + 1000, i + 500, 1.0))
data = spark.createDataFrame(rows, "user int, item int, rating float").repartition(2)
als = ALS(rank=5, maxIter=6, regParam=0.1, alpha=2.0, implicitPrefs=True, seed=7, numUserBlocks=2, numItemBlocks=2, userCol="user", itemCol="item", ratingCol="rating")
trained = als.fit(data)
trained.write().overwrite().save(config["saved"])
result["savedRank"] = trained.rank
result["itemFactors"] = {str(r["id"]): [float(x) for x in r["features"]] for r in trained.itemFactors.collect()}
result["userCount"] = trained.userFactors.count()
result["plays"] = [[u, i, c] for (u, i, c) in rows]

seconds["trained"] = time.time() - started - sum(seconds.values())

# 3. id tables for it, written by Spark
ids = config["ids"]
spark.createDataFrame([(u + 1000, "listener-%d" % u) for u in range(60)], "id int, name string").write.parquet(ids + "/userIds")
spark.createDataFrame([(i + 500, "artist %d" % i) for i in range(45)], "id int, name string").write.parquet(ids + "/itemIds")

seconds["ids"] = time.time() - started - sum(seconds.values())
result["seconds"] = seconds
print("ALS-RESULT " + json.dumps(result))
spark.stop()
