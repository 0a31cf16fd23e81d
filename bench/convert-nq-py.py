"""Python baseline for the NQ conversion benchmark: json.load the DPR array, json.dumps each record to JSONL."""
import json
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    records = json.load(f)
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for r in records:
        out.write(json.dumps(r, ensure_ascii=False) + "\n")
print(len(records))
