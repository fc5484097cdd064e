"""Generate tests/vectors/indicators.json ONCE; tests recompute every entry from it.

The file lets another implementation (a bank's Java or Go screener) check that
it normalises and hashes byte for byte like Lianfang: each entry gives the key,
kind, raw input, canonical form, the exact HMAC message, and the expected value.
Run from the repository root: `.venv/bin/python tests/vectors/make_vectors.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas.indicators import hash_indicator, normalize, simhash64, simhash_distance

KEY = bytes(range(32))

RAW = [
    ("phone", "13812345678"),
    ("phone", "+86 138 1234 5678"),
    ("phone", "008613912345678"),
    ("phone", "010-6552 9988"),
    ("phone", "+1 650-253-0000"),
    ("id_number", "11010519491231002x"),
    ("id_number", " 440524198001010013 "),
    ("id_number", "310115200002291235"),
    ("email", " Zhang.San@Example.COM "),
    ("bank_account", "6222 0202 0000 1234 567"),
    ("bank_account", "1100-1234-5678-90"),
    ("device", "  A1B2C3D4-E5F6-7890-ABCD-EF0123456789 "),
    ("device", "86:12:34:56:78:90"),
    ("group_tag", " 低息贷款 诈骗 "),
    ("group_tag", "ＶＩＰ  Refund"),
]

TEXTS = {
    "template_a": "您好，我是某某银行的客户，你们乱收费，必须赔偿我5000元，否则我向银保监会投诉！",
    "template_a_amount": (
        "您好，我是某某银行的客户，你们乱收费，必须赔偿我8000元，否则我向银保监会投诉！"
    ),
    "template_a_punct": "您好,我是某某银行客户,你们乱收费,必须赔偿我5000元,否则我向银保监会投诉",
    "template_b": (
        "本人于三月在贵行办理的信用卡被收取高额年费和违约金，要求全额退还，不处理就去媒体曝光。"
    ),
    "template_b_variant": (
        "本人于五月在贵行办理的信用卡被收取高额年费和违约金，要求全额退还，不处理就去12378曝光。"
    ),
    "unrelated_1": "我的信用卡账单有一笔交易不是我本人操作的，请帮我核实一下。",
    "unrelated_2": "请问网点周末营业吗？我想办理一张借记卡。",
}


def build() -> dict:
    hashes = []
    for kind, raw in RAW:
        canonical = normalize(kind, raw)
        hashes.append(
            {
                "kind": kind,
                "raw": raw,
                "canonical": canonical,
                "hmac_message": f"{kind}:{canonical}",
                "value": hash_indicator(kind, raw, KEY),
            }
        )
    fingerprints = {name: simhash64(text) for name, text in TEXTS.items()}
    names = sorted(TEXTS)
    distances = [
        {"a": a, "b": b, "distance": simhash_distance(fingerprints[a], fingerprints[b])}
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    ]
    return {
        "description": "value = hex(HMAC-SHA256(key, hmac_message)); complaint text = simhash64",
        "key_hex": KEY.hex(),
        "hashes": hashes,
        "simhash": [
            {"name": n, "text": t, "simhash": fingerprints[n]} for n, t in TEXTS.items()
        ],
        "simhash_distances": distances,
    }


if __name__ == "__main__":
    out = Path(__file__).with_name("indicators.json")
    out.write_text(json.dumps(build(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
