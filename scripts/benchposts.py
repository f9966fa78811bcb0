#!/usr/bin/env python3
"""Writes N realistic posts in the replay format (JSON Lines) to stdout.

Texts are built from the built-in rule set: a place from rules/default/
places.yaml (or a district), the words of one route (a phrase word and one
or two of its "any" words), and the scene and filler phrases citizens use.
Most are Weibo-length (30-140 characters), one in ten is long (300-600).
One post in five repeats an earlier one: the same text reposted (with
punctuation or a word changed) or the same problem at the same place told
again. Deterministic for a given N and seed.

    scripts/benchposts.py N [seed] > posts.jsonl
"""
import glob
import json
import os
import random
import sys

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rules", "default")
DISTRICTS = ["花山区", "雨山区", "博望区", "当涂县", "含山县", "和县"]
SCENES = ["门口", "楼下", "对面", "旁边", "路口", "附近", "小区里", "东门", "北门", "公交站旁边"]
TIMES = ["好几天了", "一个多月了", "从上周开始", "每天晚上", "今天早上", "已经三天了", "半年多了"]
ASKS = ["请相关部门尽快处理", "希望有关部门管一管", "麻烦尽快来看看", "多次反映没人管", "谢谢马上办", "请尽快解决"]
FILLER = ["老人小孩出行很不方便", "晚上走路很危险", "严重影响居民生活", "给大家带来很大困扰",
          "之前打过12345也没有解决", "周边居民意见很大", "物业说不归他们管", "社区说会上报但一直没消息"]


def load():
    routes, places = [], []
    for path in sorted(glob.glob(os.path.join(ROOT, "*.yaml"))):
        if path.endswith("_test.yaml"):
            continue
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or {}
        for r in doc.get("routes") or []:
            m = r.get("match") or {}
            words = [w for w in (m.get("any") or []) + (m.get("all") or []) if isinstance(w, str)]
            if words:
                routes.append({"any": m.get("any") or [], "all": m.get("all") or [],
                               "phrases": m.get("phrases") or []})
        for kind in ("roads", "compounds", "landmarks"):
            for p in doc.get(kind) or []:
                places.append(p["name"])
    return routes, places + DISTRICTS


def problem(rng, routes, places):
    r = rng.choice(routes)
    words = list(r["all"])
    if r["any"]:
        words += rng.sample(r["any"], min(len(r["any"]), rng.choice([1, 1, 2])))
    if r["phrases"]:
        words.insert(0, rng.choice(r["phrases"]))
    return {"place": rng.choice(places), "words": words}


def text(rng, p, long=False):
    parts = [p["place"] + rng.choice(SCENES) + "".join(p["words"][:2]) + rng.choice(TIMES)]
    if len(p["words"]) > 2:
        parts.append("还有" + "".join(p["words"][2:]))
    parts.append(rng.choice(FILLER))
    if long:
        while sum(len(x) for x in parts) < rng.randint(300, 600):
            parts.append(rng.choice(FILLER + TIMES) + "，" + p["place"] + "的" + rng.choice(p["words"]) + "问题" + rng.choice(FILLER))
    parts.append(rng.choice(ASKS))
    return "#马上办# " + "，".join(parts) + rng.choice(["。", "！", "！！", ""])


def main():
    n = int(sys.argv[1])
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    routes, places = load()
    seen = []
    out = sys.stdout
    for i in range(n):
        minute = i // 20  # 20 posts a minute from 2026-11-20 00:00 Beijing time
        created = "2026-11-%02d %02d:%02d:%02d" % (20 + minute // 1440, minute // 60 % 24, minute % 60, i % 20 * 3)
        if seen and rng.random() < 0.2:
            p, t = rng.choice(seen)
            if rng.random() < 0.5:
                t = t.rstrip("。！") + rng.choice(["！！", "。。", "？"])  # reposted
            else:
                t = text(rng, p)  # the same problem told again
        else:
            p = problem(rng, routes, places)
            t = text(rng, p, long=rng.random() < 0.1)
            seen.append((p, t))
            if len(seen) > 2000:
                seen.pop(0)
        out.write(json.dumps({"id": "b%07d" % i, "text": t, "author": "市民%d" % rng.randint(1, 5000),
                              "created_at": created, "channel": "replay"}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
