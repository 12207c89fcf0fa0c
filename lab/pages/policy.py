"""Policy editor: the routing settings in a form, the YAML beside them, checked as you type
(errors name their YAML path), a diff against the active policy, save and download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st
import yaml

from engine.rules import PolicyError
from engine.rules.yamlfile import YamlError, load_yaml
from lab import state
from lab.workbench import (
    ROOT,
    RoutingForm,
    RuleForm,
    check_policy,
    edit_policy,
    one_line,
    plain,
    policy_diff,
    rules_of,
    shipped_policies,
)

METHODS = ("round_robin", "weighted_round_robin", "greedy", "dual_price", "batch_optimal")
OFFER_MODES = ("assign", "broadcast", "cascade", "escalate")
HELD_ORDERS = ("freshest_first", "oldest_first", "highest_value")
SAVED = ROOT / "out" / "lab" / "policies"

st.title("Policy editor")
st.write("Change how leads are routed: the routing settings, the pools and the rules in the "
         "form, or anything in the YAML beside it (a rule's offer, language matching, new "
         "rules). Every change is checked as the engine checks a policy file, and a problem "
         "names its place in the YAML (`routing.offer.accept_within_s`).")

start = st.selectbox("Start from", ["the draft", "the active policy", *shipped_policies()],
                     key="policy_start")
if st.button("Load it", key="policy_load"):
    if start == "the active policy":
        st.session_state[state.DRAFT] = state.active_policy()
    elif start != "the draft":
        st.session_state[state.DRAFT] = shipped_policies()[start]
    st.session_state.pop("policy_yaml", None)

draft = state.draft_policy()
if "policy_yaml" not in st.session_state:
    st.session_state["policy_yaml"] = draft


def tree_of(text: str) -> dict[str, Any]:
    """The YAML as the form shows it, read within the policy loader's bounds (an alias
    bomb or deep nesting gives an empty form; the check below names the problem)."""
    try:
        loaded = load_yaml(text)
    except (YamlError, yaml.YAMLError, RecursionError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def section(tree: dict[str, Any], key: str) -> dict[str, Any]:
    """A mapping inside the YAML, or an empty one when it is missing or not a mapping."""
    value = tree.get(key)
    return value if isinstance(value, dict) else {}


form_col, yaml_col = st.columns(2)
tree = tree_of(st.session_state["policy_yaml"])
routing = section(tree, "routing")
offer = section(routing, "offer")
lifecycle = section(routing, "lifecycle")
params = section(routing, "params")
after = section(routing, "after_hours")


def pick(options: tuple[str, ...], value: object) -> int:
    return options.index(value) if value in options else 0


def number(value: object, default: float, low: float, high: float) -> float:
    """A YAML value the form can show: a number in range, else the default (the YAML and
    its error message keep the value as written)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high:
        return float(value)
    return default


PRIORITIES = ("low", "normal", "high", "urgent")
pools = section(tree, "pools")
rules = rules_of(tree)

with form_col, st.form("policy_form"):
    st.subheader("Routing")
    name = st.text_input("Name", str(tree.get("policy", "draft")))
    version = st.text_input("Version", str(tree.get("version", "1")))
    method = st.selectbox("Method", METHODS, index=pick(METHODS, routing.get("method")))
    mode = st.selectbox("Offer", OFFER_MODES, index=pick(OFFER_MODES, offer.get("mode")),
                        help="assign: one officer; broadcast: several at once, first to accept "
                             "wins; cascade: one after another; escalate: more and more")
    accept_min = st.number_input("Minutes to accept (the SLA)", min_value=0.5,
                                 max_value=10_080.0,
                                 value=number(offer.get("accept_within_s"), 900.0, 30.0,
                                              604_800.0) / 60.0)
    hold = st.radio("After hours", ("hold", "pool"), horizontal=True,
                    index=pick(("hold", "pool"), after.get("action")))
    after_pool = st.text_input("After-hours pool (when 'pool')", str(after.get("pool", "")))
    held_order = st.selectbox("Held leads first", HELD_ORDERS,
                              index=pick(HELD_ORDERS, lifecycle.get("held_order")))
    epsilon = st.number_input("Exploration (share of leads given to another eligible officer; "
                              "scoring methods)", min_value=0.0, max_value=1.0,
                              value=number(params.get("epsilon"), 0.0, 0.0, 1.0))
    objective = st.selectbox("Objective (scoring methods)", ("conversions", "revenue"),
                             index=pick(("conversions", "revenue"), params.get("objective")))
    st.subheader("Pools")
    pool_texts = {p: st.text_input(f"Pool {p}", one_line(spec)) for p, spec in pools.items()}
    st.subheader("Rules, tried in order")
    rule_rows = []
    names = tuple(pools)
    for k, rule in enumerate(rules):
        with st.expander(f"{k + 1}. {rule.name}"):
            rule_rows.append(RuleForm(
                name=st.text_input("Name", rule.name, key=f"rule_name_{k}_{rule.name}"),
                condition=st.text_input("If (YAML)", rule.condition,
                                        key=f"rule_if_{k}_{rule.condition}"),
                pool=st.selectbox("Pool", names or (rule.pool,),
                                  index=pick(names, rule.pool), key=f"rule_pool_{k}_{rule}"),
                fallback=tuple(st.multiselect("Fallback pools", names,
                                              [f for f in rule.fallback if f in names],
                                              key=f"rule_fallback_{k}_{rule}")),
                priority=st.selectbox("Priority", PRIORITIES,
                                      index=pick(PRIORITIES, rule.priority),
                                      key=f"rule_priority_{k}_{rule}")))
    applied = st.form_submit_button("Apply to the YAML")

if applied:
    try:
        edited = edit_policy(tree, RoutingForm(
            name=name, version=version, method=method, offer_mode=mode,
            accept_within_s=round(accept_min * 60), after_hours=hold,
            after_hours_pool=after_pool, held_order=held_order, epsilon=epsilon,
            objective=objective), pool_texts, rule_rows)
    except PolicyError as exc:
        st.error(f"Not applied: {plain(exc.path)}: {plain(exc.message)}")
    else:
        st.session_state["policy_yaml"] = yaml.safe_dump(edited, sort_keys=False,
                                                         allow_unicode=True)

with yaml_col:
    text = st.text_area("Policy YAML", key="policy_yaml", height=560)

st.session_state[state.DRAFT] = text
try:
    policy = check_policy(text, "draft")
except PolicyError as exc:
    st.error(f"Not valid at {plain(exc.path)}: {plain(exc.message)}")
    valid = False
else:
    st.success(f"Valid: policy {plain(repr(policy.name))} version {plain(policy.version)}, "
               f"{len(policy.rules)} rules, {len(policy.pools)} pools, method "
               f"{policy.routing.method}.")
    valid = True

st.subheader("Changes against the active policy")
diff = policy_diff(state.active_policy(), text, "active", "draft")
if diff:
    st.code(diff, language="diff")
else:
    st.write("The draft is the active policy.")

left, right = st.columns(2)
left.download_button("Download the YAML", text.encode("utf-8"), file_name="policy.yaml",
                     mime="application/x-yaml", disabled=not valid, key="policy_download")
if right.button("Save to out/lab/policies/", disabled=not valid, key="policy_save"):
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{policy.name}-"
                   f"{policy.version}")[:120]
    SAVED.mkdir(parents=True, exist_ok=True)
    target = SAVED / f"{safe}.yaml"
    Path(target).write_text(text, encoding="utf-8")
    right.success(f"Saved {target.relative_to(ROOT)}")
