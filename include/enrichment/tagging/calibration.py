"""Learn a calibration from a labelled sample of the user's own catalogue.

For each labelled attribute (types and file format in
:mod:`enrichment.tagging.calibration_types`):

1. **What each signal is worth**: the precision of its top choice where it spoke, and
   how often it spoke (with Wilson intervals). These become the signals' fusion weights.
2. **Candidates** for how to decide the attribute: the taxonomy's fusion with those
   weights (``fusion``), and for single-valued attributes with enough items per value a
   multinomial logistic regression over the signals' features (``head``; scikit-learn,
   standardised features, L2, its strength chosen by out-of-fold log-loss).
3. **Out-of-fold scores** (stratified k-fold, the head never scores an item it was fit
   on) give each candidate's precision/coverage curve; :func:`choose_threshold` takes
   the lowest threshold whose emitted tags reach the target precision, i.e. the most
   coverage. Categories with enough items get their own threshold.
4. The candidate with the most coverage at the target wins; its expected precision and
   coverage are reported with 95 % Wilson intervals, and a note says when the sample
   is too small for them to mean much.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from enrichment.tagging.calibration_types import (
    AttributeCalibration,
    Calibration,
    Estimate,
)
from enrichment.tagging.features import attribute_features
from enrichment.tagging.fusion import fuse_attribute
from enrichment.tagging.taxonomy import SIGNALS, Attribute, Taxonomy

MIN_ITEMS = 30  # fewer labelled items for an attribute: "sample too small"
MIN_EMITTED = 20  # fewer out-of-fold emitted tags behind an estimate: "sample too small"
MIN_CLASS = 4  # a value needs this many labelled items to be learnt by a head
MIN_CATEGORY = 60  # items of a category for it to get its own threshold
MIN_SIGNAL = 10  # items a signal spoke on before its weight is re-estimated
FOLDS = 5
C_GRID = (0.03, 0.1, 0.3, 1.0)


@dataclass
class Candidates:
    """Out-of-fold scores of one way of deciding an attribute.

    One entry per candidate tag: its raw ``score``, whether it is ``correct``, the index
    of its ``item``; ``group`` is the item's category (for per-category thresholds).
    """

    score: np.ndarray
    correct: np.ndarray
    item: np.ndarray
    group: list[str | None]
    n_items: int


def choose_threshold(
    score: np.ndarray,
    correct: np.ndarray,
    item: np.ndarray,
    n_items: int,
    target: float,
    min_emitted: int = 1,
) -> tuple[float | None, int, int, int]:
    """Lowest score threshold whose emitted candidates reach ``target`` precision.

    Returns (threshold or None if unreachable, emitted, correct emitted, items covered).
    Thresholds are only placed between distinct scores, so ties are emitted together.
    """
    if not len(score):
        return None, 0, 0, 0
    order = np.argsort(-score, kind="stable")
    s, c, it = score[order], correct[order].astype(np.int64), item[order]
    cum_correct = np.cumsum(c)
    seen: set[int] = set()
    best: tuple[float | None, int, int, int] = (None, 0, 0, 0)
    for k in range(len(s)):
        seen.add(int(it[k]))
        if k + 1 < len(s) and s[k + 1] == s[k]:
            continue  # a threshold cannot split a tie
        emitted = k + 1
        reaches = emitted >= min_emitted and cum_correct[k] / emitted >= target
        if reaches and len(seen) >= best[3]:
            best = (float(s[k]), emitted, int(cum_correct[k]), len(seen))
    return best


def _estimates(cand: Candidates, mask: np.ndarray) -> tuple[Estimate, Estimate]:
    emitted = int(mask.sum())
    covered = len(set(cand.item[mask].tolist()))
    return Estimate.of(int(cand.correct[mask].sum()), emitted), Estimate.of(covered, cand.n_items)


def decide(cand: Candidates, target: float, min_category: int = MIN_CATEGORY) -> dict:
    """Global and per-category thresholds, and the precision/coverage they give."""
    t, *_ = choose_threshold(cand.score, cand.correct, cand.item, cand.n_items, target)
    per_category: dict[str, float | None] = {}
    groups = np.array([g or "" for g in cand.group])
    for g in sorted(set(groups.tolist()) - {""}):
        in_g = groups == g
        items = len(set(cand.item[in_g].tolist()))
        if items < min_category:
            continue
        tg, *_ = choose_threshold(
            cand.score[in_g], cand.correct[in_g], cand.item[in_g], items, target
        )
        per_category[g] = tg
    limits = [per_category.get(g, t) for g in groups.tolist()]
    thresholds = np.array([np.inf if x is None else x for x in limits])
    mask = cand.score >= thresholds
    precision, coverage = _estimates(cand, mask)
    return {"threshold": t, "per_category": per_category, "precision": precision,
            "coverage": coverage}  # fmt: skip


def _isotonic(cand: Candidates) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.isotonic import IsotonicRegression

    if len(cand.score) < 2 or len(set(cand.correct.tolist())) < 2:
        p = float(cand.correct.mean()) if len(cand.correct) else 0.0
        return np.array([0.0, 1.0]), np.array([p, p])
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(cand.score, cand.correct.astype(np.float64))
    return iso.X_thresholds_.astype(np.float64), iso.y_thresholds_.astype(np.float64)


@dataclass
class LabelledItem:
    """One analysed sample item with the taxonomy ids its label accepts per attribute."""

    analysis: object  # enrichment.tagging.engine.ItemAnalysis
    gold: dict[str, set[str]]


def signal_worth(attr: Attribute, items: list[LabelledItem]) -> dict[str, dict]:
    """Per signal: precision of its top value where it spoke, and how often it spoke."""
    out = {}
    for signal in SIGNALS:
        spoke = right = 0
        for it in items:
            scores = it.analysis.evidence[attr.id].get(signal) or {}
            if not scores:
                continue
            spoke += 1
            right += max(scores, key=scores.get) in it.gold[attr.id]
        if spoke:
            out[signal] = {
                "precision": Estimate.of(right, spoke).__dict__,
                "coverage": Estimate.of(spoke, len(items)).__dict__,
            }
    return out


def _fusion_candidates(
    attr: Attribute, items: list[LabelledItem], weights: dict[str, float]
) -> Candidates:
    tuned = replace(attr, weights={**attr.weights, **weights}, threshold=0.0)
    score, correct, item, group = [], [], [], []
    for i, it in enumerate(items):
        a = it.analysis
        category = None if attr.id == "category" else a.category
        allowed = [v.id for v in attr.applicable_values(category)]
        fused = fuse_attribute(
            tuned, a.evidence[attr.id], negated=a.negated.get(attr.id, ()), allowed=allowed
        )
        for v in fused.emitted:
            score.append(v.confidence)
            correct.append(v.value in it.gold[attr.id])
            item.append(i)
            group.append(category)
    return Candidates(
        np.array(score, dtype=np.float64),
        np.array(correct, dtype=bool),
        np.array(item, dtype=np.int64),
        group,
        len(items),
    )


def feature_sets(attr: Attribute, items: list[LabelledItem]) -> list[list[str]]:
    """Candidate feature groups for a head, smallest first (small samples favour few)."""
    sets = [["evidence"]]
    if attr.id == "color" and any(it.analysis.colour is not None for it in items):
        sets += [["evidence", "shares"], ["evidence", "shares", "colour_stats"]]
    if any(it.analysis.embedding is not None for it in items):
        sets += [[*s, "clip"] for s in sets]
    return sets


def _head_target(attr: Attribute, it: LabelledItem) -> str:
    gold = it.gold[attr.id]
    best = it.analysis.fused.get(attr.id)
    if best is not None and best.best is not None and best.best.value in gold:
        return best.best.value
    return next(v for v in attr.value_ids if v in gold)


def _fit_logreg(x: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=c, max_iter=3000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(scaler.transform(x), y)
    return scaler, model


def _oof(x: np.ndarray, y: np.ndarray, c: float, folds: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    classes = np.unique(y)
    probs = np.zeros((len(y), len(classes)))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        scaler, model = _fit_logreg(x[train], y[train], c)
        cols = np.searchsorted(classes, model.classes_)
        probs[np.ix_(test, cols)] = model.predict_proba(scaler.transform(x[test]))
    return probs


def _head_candidates(attr, items, groups, seed) -> tuple[Candidates, dict] | None:
    targets = np.array([_head_target(attr, it) for it in items])
    values, counts = np.unique(targets, return_counts=True)
    learnable = set(values[counts >= MIN_CLASS].tolist())
    keep = np.array([t in learnable for t in targets])
    if len(learnable) < 2 or keep.sum() < MIN_ITEMS:
        return None
    clip_dim = max((len(it.analysis.embedding) for it in items
                    if it.analysis.embedding is not None), default=0)  # fmt: skip
    x_all = np.stack(
        [
            attribute_features(
                attr,
                groups,
                it.analysis.evidence[attr.id],
                it.analysis.colour,
                it.analysis.embedding,
                clip_dim,
            )  # fmt: skip
            for it in items
        ]
    ).astype(np.float64)
    x, y = x_all[keep], targets[keep]
    folds = int(min(FOLDS, counts[counts >= MIN_CLASS].min()))
    best = None
    for c in C_GRID:
        probs = _oof(x, y, c, folds, seed)
        idx = np.searchsorted(np.unique(y), y)
        loss = -np.mean(np.log(np.clip(probs[np.arange(len(y)), idx], 1e-9, 1)))
        if best is None or loss < best[0]:
            best = (loss, c, probs)
    _, c, probs = best
    classes = np.unique(y)
    # every labelled item is scored: an unlearnable value is simply never predicted
    full = np.zeros((len(items), len(classes)))
    full[keep] = probs
    if (~keep).any():
        scaler, model = _fit_logreg(x, y, c)
        full[~keep] = model.predict_proba(scaler.transform(x_all[~keep]))
    score, correct, item, group = [], [], [], []
    for i, it in enumerate(items):
        a = it.analysis
        if not any(a.evidence[attr.id].get(s) for s in SIGNALS) and a.embedding is None:
            continue  # no evidence, no tag
        j = int(full[i].argmax())
        score.append(full[i, j])
        correct.append(classes[j] in it.gold[attr.id])
        item.append(i)
        group.append(a.category)
    scaler, model = _fit_logreg(x, y, c)
    coef, intercept = model.coef_, model.intercept_
    if len(classes) == 2:  # binary: softmax over (0, z) is the sigmoid of z
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.array([0.0, intercept[0]])
    arrays = {
        "mean": scaler.mean_, "scale": scaler.scale_, "coef": coef, "intercept": intercept,
        "clip_dim": np.array([clip_dim]),
    }  # fmt: skip
    cand = Candidates(
        np.array(score), np.array(correct, dtype=bool), np.array(item), group, len(items)
    )
    info = {"classes": classes.tolist(), "arrays": arrays, "c": c, "learnable": len(learnable)}
    return cand, info


def calibrate_attribute(
    attr: Attribute, items: list[LabelledItem], target: float, seed: int = 0
) -> tuple[AttributeCalibration, dict[str, np.ndarray]]:
    """The calibration of one attribute from its labelled items, and its arrays."""
    worth = signal_worth(attr, items)
    weights = {
        s: float(np.clip(w["precision"]["value"], 0.05, 0.99))
        for s, w in worth.items()
        if w["precision"]["n"] >= MIN_SIGNAL
    }
    options = {"fusion": (_fusion_candidates(attr, items, weights), None)}
    for groups in [] if attr.multi else feature_sets(attr, items):
        head = _head_candidates(attr, items, groups, seed)
        if head is not None:
            options["head:" + "+".join(groups)] = head
    decided = {k: decide(cand, target) for k, (cand, _) in options.items()}
    kind = max(
        decided,
        key=lambda k: (decided[k]["threshold"] is not None, decided[k]["coverage"].k,
                       decided[k]["precision"].value or 0.0),
    )  # fmt: skip
    cand, info = options[kind]
    d = decided[kind]
    kind, _, feature_spec = kind.partition(":")
    groups = feature_spec.split("+") if feature_spec else []
    ac = AttributeCalibration(
        attribute=attr.id,
        kind=kind,
        threshold=d["threshold"],
        category_thresholds=d["per_category"],
        weights=weights if kind == "fusion" else {},
        classes=info["classes"] if info else [],
        features=groups,
        precision=d["precision"],
        coverage=d["coverage"],
        n=len(items),
        signal_worth=worth,
    )
    ac.notes = _notes(ac, cand, target)
    if ac.too_small and ac.threshold is not None:
        # an estimate from a handful of tags: keep the taxonomy's decision, say so
        ac.kind = "taxonomy"
        ac.features = []
    x, y = _isotonic(cand)
    arrays = {f"iso.{attr.id}.x": x, f"iso.{attr.id}.y": y}
    if info:
        arrays.update({f"head.{attr.id}.{k}": np.asarray(v) for k, v in info["arrays"].items()})
    return ac, arrays


def _notes(ac: AttributeCalibration, cand: Candidates, target: float) -> list[str]:
    notes = []
    emitted = ac.precision.n if ac.precision else 0
    if ac.n < MIN_ITEMS or (ac.threshold is not None and emitted < MIN_EMITTED):
        notes.append(
            f"sample too small: {ac.n} labelled items, {emitted} "
            f"tags behind the estimate (want >= {MIN_ITEMS} and >= {MIN_EMITTED})"
        )
    if ac.threshold is None:
        best = max(cand.correct.mean() if len(cand.correct) else 0.0, 0.0)
        notes.append(
            f"target precision {target:.0%} unreachable on this sample (all candidate tags: "
            f"{best:.1%} precise); the attribute abstains"
        )
    elif ac.precision and ac.precision.low < target:
        notes.append(
            f"the interval's lower end {ac.precision.low:.1%} is below the target: "
            "a larger sample would make the estimate firmer"
        )
    return notes


def calibrate(
    taxonomy: Taxonomy,
    items: list[LabelledItem],
    attributes: list[str],
    target: float,
    clip_model: str | None,
    sample: dict | None = None,
) -> Calibration:
    """A calibration of ``attributes`` from analysed, labelled sample items."""
    out: dict[str, AttributeCalibration] = {}
    arrays: dict[str, np.ndarray] = {}
    for a in attributes:
        labelled = [it for it in items if it.gold.get(a) and a in it.analysis.evidence]
        if not labelled:
            continue
        ac, arr = calibrate_attribute(taxonomy.attribute(a), labelled, target)
        out[a], arrays = ac, {**arrays, **arr}
    uses_clip = any("clip" in ac.features for ac in out.values())
    return Calibration(
        taxonomy_version=taxonomy.version,
        target_precision=target,
        clip_model=clip_model if uses_clip else None,
        attributes=out,
        arrays=arrays,
        sample=sample or {},
    )
