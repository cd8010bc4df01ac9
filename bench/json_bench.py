"""The pure cost of JSON on the HTTP path: encode a task and a list of 100 tasks, decode a create body.

    python -m bench.json_bench [--repeat N]

Times each available library (the standard library's json as Flask's default provider calls it,
orjson, msgspec) with timeit, best of 5, in microseconds per call. One process, no server: stable
enough on a shared machine to compare libraries, unlike the end-to-end rows of bench/run.
"""

from __future__ import annotations

import argparse
import json
import timeit

TASK = {
    "id": 123456,
    "title": "bench 12-3456",
    "description": "x" * 60,
    "status": "todo",
    "created_by": "node-1",
    "created_at": "2026-12-01T02:03:04.567Z",
    "updated_at": "2026-12-01T02:03:04.567Z",
    "version": 1,
    "created_by_user": "admin",
    "updated_by_user": None,
}
PAGE = {"items": [{**TASK, "id": TASK["id"] + i} for i in range(100)], "next": "123556"}
BODY = json.dumps({"title": "bench 12-3456", "description": "x" * 60}).encode()


def _candidates() -> dict[str, tuple]:
    """name -> (encode to bytes, decode from bytes), each called as the providers call them."""
    found: dict[str, tuple] = {
        # Flask's DefaultJSONProvider.response: json.dumps with compact separators, then encoded.
        "stdlib json": (
            lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=True, sort_keys=False).encode(),
            json.loads,
        ),
    }
    try:
        import orjson

        found["orjson"] = (lambda o: orjson.dumps(o, option=orjson.OPT_APPEND_NEWLINE), orjson.loads)
    except ImportError:
        pass
    try:
        import msgspec

        enc, dec = msgspec.json.Encoder(), msgspec.json.Decoder()
        found["msgspec"] = (enc.encode, dec.decode)
    except ImportError:
        pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cases = [
        ("encode 1 task", 0, TASK, 20000),
        ("encode 100 tasks", 0, PAGE, 500),
        ("decode a create body", 1, BODY, 20000),
    ]
    print(f"{'library':<12} " + " ".join(f"{name:>22}" for name, *_ in cases) + "   (us per call, best of --repeat)")
    for lib, funcs in _candidates().items():
        cells = []
        for _name, which, obj, number in cases:
            fn = funcs[which]
            best = min(timeit.repeat(lambda fn=fn, obj=obj: fn(obj), number=number, repeat=args.repeat))
            cells.append(f"{best / number * 1e6:>22.2f}")
        print(f"{lib:<12} " + " ".join(cells))


if __name__ == "__main__":
    main()
