"""``train score A B [--method M[,M...] ...] [--json]``: how similar two images are, by each method."""

from __future__ import annotations

import json
import time

from siamkit.cli.arguments import (
    ArgumentParser,
    add_runtime_arguments,
    check_model_options_apply,
    method_names,
)
from siamkit.data.images import load_image
from siamkit.scoring.registry import DEFAULT_METHODS, METHOD_FORMS


def main(argv: list[str]) -> int:
    parser = ArgumentParser(
        prog="train score",
        description="Score how similar image A and image B are (higher = more similar) with each method.",
        epilog=f"Methods: {METHOD_FORMS}.",
    )
    parser.add_argument("a", help="first image")
    parser.add_argument("b", help="second image")
    parser.add_argument("--method", "-m", action="append", dest="methods", metavar="M",
                        help=f"a method, or several comma-separated (repeatable; default: "
                             f"{','.join(DEFAULT_METHODS)})")
    parser.add_argument("--json", action="store_true", help="one JSON object per method, one per line")
    add_runtime_arguments(parser)
    args = parser.parse_args(argv)

    from siamkit.scoring.registry import get_scorer, is_classical

    methods = method_names(args.methods, "--method", DEFAULT_METHODS) if args.methods else DEFAULT_METHODS
    check_model_options_apply(args, not all(map(is_classical, methods)), "add an encoder to --method")
    a, b = load_image(args.a), load_image(args.b)  # each readable, before any model loads
    options = {"device": args.device, "runtime": args.runtime, "threads": args.threads}
    scorers = [get_scorer(method, **({} if is_classical(method) else options)) for method in methods]
    results = []
    for method, scorer in zip(methods, scorers):
        start = time.perf_counter()
        # an encoder gets the files, as `train evaluate` and `embed` give them: it decodes a JPEG at its
        # own reduction, which the decoded arrays would skip; a classical method reads them in full
        value = scorer.score(*((a, b) if is_classical(method) else (args.a, args.b)))
        threshold = getattr(scorer, "threshold", None)
        results.append({"method": scorer.name, "score": value, "seconds": time.perf_counter() - start,
                        **({"same": bool(value >= threshold),
                            "threshold": threshold} if threshold is not None else {}),
                        **({"unreliable": notes} if (notes := _hash_notes(scorer, args, a, b)) else {})})
    width = max(len(r["method"]) for r in results)
    for r in results:
        if args.json:
            print(json.dumps(r))
        else:
            verdict = ""
            if "same" in r:
                verdict = f"  {'same' if r['same'] else 'different'} (threshold {r['threshold']:.3f})"
            if "unreliable" in r:
                verdict += f"  unreliable: {'; '.join(r['unreliable'])}"
            print(f"{r['method']:<{width}}  {r['score']:8.4f}  {r['seconds'] * 1000:8.1f} ms{verdict}")
    return 0


def _hash_notes(scorer, args, a, b) -> list[str]:
    """A hash of an image with too little detail (flat, tiny) is nearly every such image's hash:
    its score says little, and `train duplicates` compares such an image with nothing."""
    if not hasattr(scorer, "checked_features"):
        return []
    problems = {args.a: scorer.checked_features(a)[1], args.b: scorer.checked_features(b)[1]}
    return [f"{name} has {problem}" for name, problem in problems.items() if problem]
