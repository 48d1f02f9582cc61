"""The data mixture: which share of the tokens a model sees comes from which documents.

A mixture (config `mixture`, or a model's own `models[i].mixture`) names groups of documents by
`where` (source, modality, decade); a document belongs to the first group it matches, the rest to
`other`. Weights are shares of the tokens seen in training. `other_weight: null` gives the other
documents what the groups leave (1 - the groups' weights), each of them in its natural proportion.
With `rehydrate: true` a kept document counts as often as its duplicate cluster had members (pack
records each document's cluster size from `dropped/dedup`), capped at `max_epochs`.

How blocks are drawn (deterministic, rank-independent, resumable at any step):

- A group's tokens are the runs of its strata in the packed shards (pack groups a shard's documents
  by stratum), one class per rehydration weight w. Blocks are windows over a class's runs joined
  end to end; a class of weight w lists each of its blocks w times. A pass over the group is a
  seeded pseudo-random permutation (a Feistel network, no array of the group's size) of that list;
  a group drawn more often than it has blocks starts a new pass in a new order, a group drawn less
  is a random subsample.
- Global position p of the training stream (step s takes positions s*G .. (s+1)*G - 1, G the global
  batch in blocks) belongs to a group by a schedule computed cycle by cycle (CYCLE positions):
  group g has Q_g(c) = floor(w_g * c * CYCLE) positions before cycle c, exactly (fractions), and
  within a cycle its positions are spread evenly (stride scheduling: its j-th at (j + 0.5) / q_g of
  the cycle). So every prefix of the stream is within about one block per group of its target and
  the schedule needs neither the run's length nor its ranks.

What a rank holds: the stratum runs (7 integers per run; a few per shard and stratum) and one cycle
of the schedule (CYCLE positions). For 10^8 documents in 5,000 shards of 50M tokens and 200 strata
that is at most 10^6 runs, 56 MB, whatever the number of documents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

WHERE_COLUMNS = ("source", "modality", "decade")
DEFAULTS = {"groups": [], "other_weight": None, "max_epochs": 4, "rehydrate": False}
OTHER = "other"
CYCLE = 1 << 16


class MixtureError(ValueError):
    pass


def settings_of(mixture: dict | None) -> dict | None:
    return None if not mixture else {**DEFAULTS, **mixture}


def check_config(mixture: dict, sources: list[dict], key: str) -> None:
    """What the config alone can tell: unknown `where` columns, sources or modalities that no
    source has, weights that are not shares. `key` names the mixture in messages (e.g. `mixture`)."""
    m = settings_of(mixture)
    names = {s["name"]: s["modality"] for s in sources}
    seen = set()
    for i, group in enumerate(m["groups"]):
        at = f"{key}.groups[{i}]"
        if group["name"] in seen or group["name"] == OTHER:
            raise MixtureError(f"config key {at}.name: {group['name']!r} is used twice or is reserved ({OTHER!r} is the rest).")
        seen.add(group["name"])
        where = group.get("where") or {}
        if not where:
            raise MixtureError(f"config key {at}.where: empty; say which documents with any of {', '.join(WHERE_COLUMNS)}.")
        for column in where:
            if column not in WHERE_COLUMNS:
                raise MixtureError(f"config key {at}.where.{column}: unknown column; a group selects by "
                                   f"{', '.join(WHERE_COLUMNS)}.")
        for name in where.get("source", []):
            if name not in names:
                raise MixtureError(f"config key {at}.where.source: {name!r} is not a source of this config "
                                   f"({', '.join(sorted(names))}); the group would match nothing.")
        candidates = [n for n in names if not where.get("source") or n in where["source"]]
        if "modality" in where and not any(names[n] in where["modality"] for n in candidates):
            raise MixtureError(f"config key {at}.where.modality: no source {'named in where.source ' if where.get('source') else ''}"
                               f"has modality {' or '.join(where['modality'])}; the group would match nothing.")
        if not group["weight"] > 0:
            raise MixtureError(f"config key {at}.weight: {group['weight']} is not a share above 0.")
    total = sum(Fraction(str(g["weight"])) for g in m["groups"])
    if total > 1:
        raise MixtureError(f"config key {key}.groups: the weights add up to {float(total):g}; shares of the tokens seen add up to 1 at most.")
    if m["other_weight"] is not None and abs(total + Fraction(str(m["other_weight"])) - 1) > Fraction(1, 10**6):
        raise MixtureError(f"config key {key}.other_weight: {m['other_weight']} and the groups' {float(total):g} do not add up "
                           "to 1; set it to the rest, or to null for what the groups leave.")
    if m["max_epochs"] < 1:
        raise MixtureError(f"config key {key}.max_epochs: {m['max_epochs']} is below one pass over a group.")


def stratum_group(m: dict, index: dict, source: int, modality: int, decade: int) -> int:
    """The group of a stratum (its codes as in the packed index): the first whose `where` matches;
    len(groups) for the other documents."""
    sources = index.get("sources") or []
    values = {"source": sources[source] if 0 <= source < len(sources) else None,
              "modality": index["modalities"][modality], "decade": decade if decade >= 0 else None}
    for i, group in enumerate(m["groups"]):
        if all(values[c] in allowed for c, allowed in group["where"].items()):
            return i
    return len(m["groups"])


def copies_weight(m: dict, copies: int) -> int:
    return min(int(copies), int(m["max_epochs"])) if m["rehydrate"] else 1


def class_blocks(tokens: int, block_size: int, family: str) -> int:
    """Blocks of a class of `tokens` joined tokens (causal blocks need one more token as the last label)."""
    return max(0, (tokens - 1) // block_size) if family == "causal" else tokens // block_size


@dataclass
class Group:
    name: str
    weight: Fraction = Fraction(0)
    tokens: int = 0                         # the group's tokens in the corpus, each once
    classes: dict = field(default_factory=dict)  # rehydration weight -> tokens of that class

    def available_tokens(self) -> int:
        return sum(w * t for w, t in self.classes.items())

    def blocks(self, block_size: int, family: str) -> int:
        return sum(w * class_blocks(t, block_size, family) for w, t in self.classes.items())


def groups_of(mixture: dict, index: dict, strata, key: str) -> list[Group]:
    """The mixture's groups (and `other`) with their tokens and weights, from stratum totals
    ([source, modality, decade, copies, tokens, docs] rows); refuses, naming the key, a group that
    matches nothing or weights that leave a share to no document."""
    m = settings_of(mixture)
    if any(g.get("where", {}).get("source") for g in m["groups"]) and not index.get("sources"):
        raise MixtureError(f"config key {key}.groups: a group selects by source and this packed split was written "
                           "without sources (rerun `pack`)")
    groups = [Group(g["name"], Fraction(str(g["weight"]))) for g in m["groups"]] + [Group(OTHER)]
    for source, modality, decade, copies, tokens, _docs in strata:
        group = groups[stratum_group(m, index, source, modality, decade)]
        w = copies_weight(m, copies)
        group.tokens += tokens
        group.classes[w] = group.classes.get(w, 0) + tokens
    rest = 1 - sum(g.weight for g in groups[:-1])
    groups[-1].weight = Fraction(str(m["other_weight"])) if m["other_weight"] is not None else rest
    total = sum(g.weight for g in groups)
    for g in groups:
        g.weight /= total
    for i, g in enumerate(groups[:-1]):
        if not g.tokens:
            raise MixtureError(f"config key {key}.groups[{i}].where: group {g.name!r} matches no document of the corpus.")
    if groups[-1].weight and not groups[-1].tokens:
        raise MixtureError(f"config key {key}.groups: the groups' weights leave {float(groups[-1].weight):.3g} of the tokens "
                           "to the other documents and there are none; make the weights add up to 1.")
    return groups


def plan(mixture: dict | None, index: dict, strata, budget_tokens: int, block_size: int, family: str,
         key: str = "mixture") -> dict:
    """Per group: weight, available_tokens (rehydrated), unique_tokens, planned_tokens, epochs
    (planned repeats of the available tokens); refuses, naming the key, a group that would be
    repeated more than `max_epochs` or that has too few tokens for one block. Without a mixture
    one group, `all`: every corpus token at its natural share."""
    m = settings_of(mixture) or {**DEFAULTS}
    groups = groups_of(m, index, strata, key) if mixture else [Group("all", Fraction(1), sum(r[4] for r in strata),
                                                                      {1: sum(r[4] for r in strata)})]
    out = {}
    for i, g in enumerate(groups):
        if not g.weight:
            continue
        planned = int(g.weight * budget_tokens)
        available = g.available_tokens()
        epochs = planned / available if available else math.inf
        where = f"{key}.groups[{i}].weight" if i < len(m["groups"]) else f"{key}.other_weight"
        if mixture and not g.blocks(block_size, family):
            raise MixtureError(f"config key {where}: group {g.name!r} has {available} tokens, too few for one block of "
                               f"{block_size}.")
        if mixture and epochs > m["max_epochs"] + 1e-9:
            raise MixtureError(
                f"config key {where}: group {g.name!r} has {available:,} tokens; a share of {float(g.weight):.3g} of the "
                f"{budget_tokens:,} tokens of training is {epochs:.2f} passes over it, more than {key}.max_epochs "
                f"({m['max_epochs']}). Lower the weight, raise max_epochs, or train on fewer tokens.")
        out[g.name] = {"weight": round(float(g.weight), 6), "available_tokens": int(available), "unique_tokens": int(g.tokens),
                       "planned_tokens": planned, "epochs": round(epochs, 4)}
    return {"budget_tokens": int(budget_tokens), "block_size": block_size, "max_epochs": m["max_epochs"],
            "rehydrate": bool(m["rehydrate"]), "groups": out}


# --- a permutation without an array ---------------------------------------------------------------

def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (uint64 arithmetic wraps by design)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def permute(i: np.ndarray, n: int, key: int) -> np.ndarray:
    """A pseudo-random permutation of range(n) applied to `i` (values < n): a four-round Feistel
    network over the next even power of two, walked until it lands inside range(n)."""
    half = max(1, (max(n - 1, 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half) - 1)
    keys = _mix(np.arange(1, 5, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.full(4, key % (1 << 64), dtype=np.uint64))
    x = np.asarray(i, dtype=np.uint64).copy()
    todo = np.ones(len(x), dtype=bool)
    while todo.any():
        left, right = x[todo] >> np.uint64(half), x[todo] & mask
        for k in keys:
            left, right = right, left ^ (_mix(right ^ k) & mask)
        x[todo] = (left << np.uint64(half)) | right
        todo[todo] = x[todo] >= np.uint64(n)
    return x.astype(np.int64)


M64 = (1 << 64) - 1


def _mix_int(x: int) -> int:
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def round_keys(key: int) -> tuple[int, ...]:
    return tuple(_mix_int((k * 0x9E3779B97F4A7C15 + key) & M64) for k in range(1, 5))


def permute_one(i: int, n: int, keys: tuple[int, ...]) -> int:
    """`permute` for one index in plain integers (the training path: one block at a time)."""
    half = max(1, (max(n - 1, 1).bit_length() + 1) // 2)
    mask = (1 << half) - 1
    x = i
    while True:
        left, right = x >> half, x & mask
        for k in keys:
            left, right = right, left ^ (_mix_int(right ^ k) & mask)
        x = (left << half) | right
        if x < n:
            return x


def stream_key(seed: int, group: int, epoch: int) -> int:
    return int(_mix(np.array([seed * 1_000_003 + group * 7919 + epoch * 104_729 + 1], dtype=np.uint64))[0])


# --- the training stream ------------------------------------------------------------------------

@dataclass
class BlockClass:
    """The blocks of one group's documents of one rehydration weight: windows over their runs."""
    weight: int
    runs: np.ndarray   # (shard, start, end) per run
    ends: np.ndarray   # cumulative tokens at the end of each run
    blocks: int


class MixtureStream:
    """Global position -> (group, block): the schedule described in the module's docstring."""

    def __init__(self, split, mixture: dict, block_size: int, family: str, seed: int, key: str = "mixture"):
        self.split, self.block_size, self.family, self.seed = split, block_size, family, seed
        self.span = block_size + 1 if family == "causal" else block_size
        m = settings_of(mixture)
        self.groups = [g for g in groups_of(m, split.index, split.strata(), key)]
        runs = split.stratum_runs()
        per_class: dict[tuple[int, int], list] = {}
        for shard, source, modality, decade, copies, start, end in runs:
            g = stratum_group(m, split.index, source, modality, decade)
            per_class.setdefault((g, copies_weight(m, copies)), []).append((shard, start, end))
        self.classes: list[list[BlockClass]] = []
        for g in range(len(self.groups)):
            classes = []
            for (cg, w), rows in sorted(per_class.items()):
                if cg != g:
                    continue
                rows = np.array(rows, dtype=np.int64)
                ends = np.cumsum(rows[:, 2] - rows[:, 1])
                n = class_blocks(int(ends[-1]), block_size, family)
                if n:
                    classes.append(BlockClass(w, rows, ends, n))
            self.classes.append(classes)
        self.virtual = [sum(c.weight * c.blocks for c in cs) for cs in self.classes]
        self.weights = [g.weight if v else Fraction(0) for g, v in zip(self.groups, self.virtual)]
        total = sum(self.weights)
        self.weights = [w / total for w in self.weights]
        self._cycle, self._before, self._keys = (None, None), {}, (None, None)

    # the schedule
    def before_cycle(self, c: int) -> list[int]:
        """Q_g(c): positions of each group before cycle c."""
        if c not in self._before:
            if len(self._before) > 64:
                self._before.clear()
            self._before[c] = [math.floor(w * c * CYCLE) for w in self.weights]
        return self._before[c]

    def cycle_start(self, c: int) -> int:
        return sum(self.before_cycle(c))

    def cycle(self, c: int) -> tuple[int, np.ndarray, np.ndarray]:
        """(first position, group per position, block index within its group) of cycle c."""
        if self._cycle[0] != c:
            first, after = self.before_cycle(c), self.before_cycle(c + 1)
            quota = [b - a for a, b in zip(first, after)]
            times = [(np.arange(q) + 0.5) / q for q in quota]
            group = np.concatenate([np.full(q, g, dtype=np.int64) for g, q in enumerate(quota)])
            rank = np.concatenate([np.arange(q, dtype=np.int64) + first[g] for g, q in enumerate(quota)])
            order = np.lexsort((group, np.concatenate(times)))
            self._cycle = (c, (sum(first), group[order], rank[order]))
        return self._cycle[1]

    def locate(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(group, k) of each global position: position p is the k-th block its group gives."""
        positions = np.asarray(positions, dtype=np.int64)
        groups, ks = np.empty(len(positions), np.int64), np.empty(len(positions), np.int64)
        for i, p in enumerate(positions.tolist()):
            c = p // CYCLE
            while self.cycle_start(c + 1) <= p:
                c += 1
            while self.cycle_start(c) > p:
                c -= 1
            first, group, rank = self.cycle(c)
            groups[i], ks[i] = group[p - first], rank[p - first]
        return groups, ks

    def block(self, group: int, k: int) -> tuple[BlockClass, int]:
        """The k-th block group `group` gives: pass k // V in its own seeded order."""
        v_total = self.virtual[group]
        epoch = k // v_total
        if self._keys[0] != (group, epoch):
            self._keys = ((group, epoch), round_keys(stream_key(self.seed, group, epoch) % (1 << 64)))
        v = permute_one(k % v_total, v_total, self._keys[1])
        for cls in self.classes[group]:
            if v < cls.weight * cls.blocks:
                return cls, v % cls.blocks
            v -= cls.weight * cls.blocks
        raise AssertionError("virtual block out of range")

    def window(self, position: int) -> np.ndarray:
        (group,), (k,) = self.locate(np.array([position]))
        cls, b = self.block(int(group), int(k))
        start, parts = b * self.block_size, []
        need = self.span
        run = int(np.searchsorted(cls.ends, start, side="right"))
        while need:
            shard, s, e = cls.runs[run]
            offset = start - (cls.ends[run] - (e - s))
            take = min(need, int(e - s - offset))
            parts.append(np.asarray(self.split.shards[shard][s + offset:s + offset + take], dtype=np.int64))
            need, start, run = need - take, start + take, run + 1
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def seen_blocks(self, positions: int) -> dict[str, int]:
        """Blocks of each group among the first `positions` of the stream."""
        c = positions // CYCLE
        while self.cycle_start(c + 1) <= positions:
            c += 1
        while c and self.cycle_start(c) > positions:
            c -= 1
        first, group, _ = self.cycle(c)
        counts = np.array(self.before_cycle(c)) + np.bincount(group[:positions - first], minlength=len(self.groups))
        return {g.name: int(n) for g, n, w in zip(self.groups, counts, self.weights) if w}
