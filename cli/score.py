"""``train score A B [--method M ...] [--json]``: how similar two images are, by each method."""

from __future__ import annotations

import json
import time

from siamkit.cli.arguments import ArgumentParser, add_runtime_arguments
from siamkit.data.images import load_image
from siamkit.scoring.registry import DEFAULT_METHODS


def main(argv: list[str]) -> int:
    parser = ArgumentParser(
        prog="train score",
        description="Score how similar image A and image B are (higher = more similar) with each method.",
        epilog="Methods: histogram, ssim, sift, orb, phash, any with a preset (histogram:seed, ssim:seed, "
               "sift:ransac ...), an encoder folder, a .ckpt, or open_clip:MODEL:TAG.",
    )
    parser.add_argument("a", help="first image")
    parser.add_argument("b", help="second image")
    parser.add_argument("--method", "-m", action="append", dest="methods", metavar="M",
                        help=f"a method (repeatable; default: {', '.join(DEFAULT_METHODS)})")
    parser.add_argument("--json", action="store_true", help="one JSON object per method, one per line")
    add_runtime_arguments(parser)
    args = parser.parse_args(argv)

    from siamkit.scoring.registry import get_scorer, is_classical

    # bad names fail before any work
    runtime = {"runtime": args.runtime, "threads": args.threads}
    scorers = [get_scorer(method, **({} if is_classical(method) else runtime))
               for method in dict.fromkeys(args.methods or DEFAULT_METHODS)]  # each once, as in evaluate
    a, b = load_image(args.a), load_image(args.b)
    results = []
    for scorer in scorers:
        start = time.perf_counter()
        value = scorer.score(a, b)
        threshold = getattr(scorer, "threshold", None)
        results.append({"method": scorer.name, "score": value, "seconds": time.perf_counter() - start,
                        **({"same": bool(value >= threshold),
                            "threshold": threshold} if threshold is not None else {})})
    width = max(len(r["method"]) for r in results)
    for r in results:
        if args.json:
            print(json.dumps(r))
        else:
            verdict = ""
            if "same" in r:
                verdict = f"  {'same' if r['same'] else 'different'} (threshold {r['threshold']:.3f})"
            print(f"{r['method']:<{width}}  {r['score']:8.4f}  {r['seconds'] * 1000:8.1f} ms{verdict}")
    return 0
