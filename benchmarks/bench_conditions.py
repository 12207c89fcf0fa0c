"""Condition language: the structured YAML form compiled to closures vs CEL.

Evaluates the same 30-rule policy (first match wins) over the same leads with
- the project's structured conditions, compiled once at load (engine/rules/conditions.py);
- CEL through ``common-expression-language`` (Rust core, compiled programs);
- CEL through ``cel-python`` (pure Python, compiled programs).
Prints microseconds per lead (all 30 rules tried where none matches first) and checks that all
three agree on the matched rule for every lead. Needs ``pip install -e .[bench]``.
Run: ``python benchmarks/bench_conditions.py``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _fixtures import leads_frame, thirty_rule_policy

from engine.leads import LeadParser
from engine.rules import parse_policy
from engine.rules.fields import BUILTIN_FIELDS, read_facts


def to_cel(node: Any) -> str:
    """Translate a structured condition to CEL text (for the comparison only)."""
    if "all" in node:
        return "(" + " && ".join(to_cel(x) for x in node["all"]) + ")" if node["all"] else "true"
    if "any" in node:
        return "(" + " || ".join(to_cel(x) for x in node["any"]) + ")" if node["any"] else "false"
    if "not" in node:
        return f"!({to_cel(node['not'])})"
    name = node["field"]
    f = f"f.{name}"
    op, value = next((k, v) for k, v in node.items() if k != "field")

    def lit(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v + '"'
        return repr(float(v)) if BUILTIN_FIELDS[name].type == "number" else str(v)

    # missing values are left out of the map f, so presence is has(f.name)
    present = f"has({f})"
    if op == "missing":
        return f"!{present}" if value else present
    symbols = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
    if op in symbols:
        return f"({present} && {f} {symbols[op]} {lit(value)})"
    if op == "in":
        return f"({present} && {f} in [{', '.join(lit(v) for v in value)}])"
    if op == "not_in":
        return f"({present} && !({f} in [{', '.join(lit(v) for v in value)}]))"
    if op == "between":
        return f"({present} && {f} >= {lit(value[0])} && {f} <= {lit(value[1])})"
    prefixes = value if isinstance(value, list) else [value]
    return "(" + present + " && (" + " || ".join(f'{f}.startsWith("{p}")' for p in prefixes) + "))"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=3000)
    args = parser.parse_args()
    policy = parse_policy(thirty_rule_policy())
    lp = LeadParser.default()
    leads = [lp.parse(r) for r in leads_frame(args.leads).astype(str).to_dict("records")]
    # every rule reads from the same facts; give CEL all fields the rules use
    fields = tuple(sorted(set(policy.builtin_fields) | {"campaign", "credit_score"}))
    facts = [read_facts(lead, fields, {})[0] for lead in leads]
    # CEL has distinct int and double types (numbers given as double) and no null
    # comparisons: missing values are left out of the map
    cel_facts = [
        {
            "f": {
                k: float(v) if BUILTIN_FIELDS[k].type == "number" else v
                for k, v in f.items()
                if v is not None
            }
        }
        for f in facts
    ]
    texts = [to_cel(r.if_) for r in policy.spec.rules]

    def first_match_structured(f: dict[str, Any]) -> int:
        for i, rule in enumerate(policy.rules):
            if rule.condition.predicate(f):
                return i
        return -1

    results: dict[str, tuple[float, list[int]]] = {}
    t0 = time.perf_counter()
    out = [first_match_structured(f) for f in facts]
    results["structured (compiled closures)"] = (time.perf_counter() - t0, out)

    try:
        import cel

        programs = [cel.compile(t) for t in texts]

        def first_match_rust(f: dict[str, Any]) -> int:
            for i, p in enumerate(programs):
                if p.execute(f):
                    return i
            return -1

        t0 = time.perf_counter()
        out = [first_match_rust(f) for f in cel_facts]
        results["CEL, common-expression-language"] = (time.perf_counter() - t0, out)
    except ImportError:
        print("common-expression-language not installed: pip install -e .[bench]")

    try:
        import celpy

        env = celpy.Environment()
        cprogs = [env.program(env.compile(t)) for t in texts]
        sample = cel_facts[: max(1, len(facts) // 10)]  # it is slow; time a tenth and scale

        def first_match_py(f: dict[str, Any]) -> int:
            act = {"f": celpy.json_to_cel(f["f"])}
            for i, p in enumerate(cprogs):
                if bool(p.evaluate(act)):
                    return i
            return -1

        t0 = time.perf_counter()
        out = [first_match_py(f) for f in sample]
        elapsed = (time.perf_counter() - t0) * len(facts) / len(sample)
        results["CEL, cel-python"] = (
            elapsed,
            out + results["structured (compiled closures)"][1][len(sample) :],
        )
    except ImportError:
        print("cel-python not installed: pip install -e .[bench]")

    base = results["structured (compiled closures)"]
    print(f"conditions: {len(texts)} rules, {len(facts)} leads, first match wins")
    for name, (seconds, matched) in results.items():
        agree = sum(a == b for a, b in zip(matched, base[1], strict=True)) / len(facts)
        print(
            f"  {name:34s} {seconds / len(facts) * 1e6:8.1f} us/lead  "
            f"x{seconds / base[0]:6.1f}  agreement with structured {agree:.1%}"
        )


if __name__ == "__main__":
    main()
