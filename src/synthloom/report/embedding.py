"""Metrics over sentence embeddings (all-MiniLM-L6-v2: float32 rows of unit length): how
diverse the dataset is, how close it lies to a reference set, whether it has collapsed onto a
few modes, and a 2-D map of both for the report.

Every function is pure and seeded: the same arrays and ``seed`` give the same numbers. They
return plain Python values ready for ``metrics.json``, ``None`` where there are too few rows,
and name the sample sizes and parameters they used, so a reader can say which k, which
samples and which classifier produced a figure. Anything quadratic in the row count runs on a
fixed-size random sample (a parameter with a default), so 100,000 rows against a 10,000-row
reference take seconds to a few minutes and stay well under 2 GB.

References:

- Friedman & Dieng (2023), "The Vendi Score: A Diversity Evaluation Metric for Machine
  Learning", TMLR. ``vendi`` matches ``vendi_score.vendi.score_X`` (cosine kernel, q = 1).
- Naeem, Oh, Uh, Choi & Yoo (2020), "Reliable Fidelity and Diversity Metrics for Generative
  Models", ICML. ``prdc`` matches the authors' ``prdc.compute_prdc``.
- Pillutla, Swayamdipta, Zellers, Thickstun, Welleck, Choi & Harchaoui (2021), "MAUVE:
  Measuring the Gap Between Neural Text and Human Text using Divergence Frontiers", NeurIPS.
  ``mauve`` follows ``mauve.compute_mauve(p_features=, q_features=)`` with its defaults.
- Lopez-Paz & Oquab (2017), "Revisiting Classifier Two-Sample Tests", ICLR (``c2st_auc``).
- Shumailov et al. (2024), "AI models collapse when trained on recursively generated data",
  Nature: the tails of the distribution vanish first, hence ``variance_ratio`` and the tail
  retention in ``cluster_coverage``.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal, TypedDict

import numpy as np
import scipy.linalg
from numpy.typing import NDArray
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import auc, pairwise_distances
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, normalize

Matrix = NDArray[np.floating[Any]]

# distance blocks are cut to about this many float64 cells (~64 MB), whatever the row counts
_BLOCK_CELLS = 8_000_000


class Sampled(TypedDict):
    value: float | None
    sample: int


class PRDC(TypedDict):
    precision: float | None
    recall: float | None
    density: float | None
    coverage: float | None
    k: int
    real_sample: int
    fake_sample: int


class Mauve(TypedDict):
    value: float | None
    clusters: int | None
    p_sample: int
    q_sample: int
    pca_components: int | None
    scaling_factor: float


class C2ST(TypedDict):
    value: float | None
    classifier: str
    folds: int
    a_sample: int
    b_sample: int


class ClusterCoverage(TypedDict):
    coverage: float | None
    tail_retention: float | None
    clusters: int | None
    tail_clusters: int | None
    tail_mass: float
    reference_counts: list[int]
    dataset_counts: list[int]
    reference_fit_sample: int


class Projection(TypedDict):
    dataset: list[list[float]]
    reference: list[list[float]]
    dataset_sample: int
    reference_sample: int
    explained_variance: list[float]


def _sample(x: Matrix, size: int | None, rng: np.random.Generator) -> Matrix:
    """At most ``size`` rows drawn without replacement, kept in their original order so the
    result depends only on which rows were drawn; ``None`` keeps every row."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of embeddings, got shape {x.shape}")
    if size is None or len(x) <= size:
        return x
    return x[np.sort(rng.choice(len(x), size=size, replace=False))]


def _unit64(x: Matrix) -> NDArray[np.float64]:
    """Rows rescaled to unit length in float64: the kernels below are cosine similarities,
    and the eigen and sum computations keep their accuracy in double precision."""
    rows = np.asarray(x, dtype=np.float64)
    out: NDArray[np.float64] = normalize(rows, norm="l2", axis=1) if len(rows) else rows
    return out


def _kmeans(x: Matrix, k: int, starts: int, max_iter: int, seed: int) -> KMeans:
    """Lloyd's k-means from ``starts`` random-row seedings, the best kept: faiss's scheme, which
    mauve-text uses. scikit-learn's k-means++ seeding measured 15-40x slower here (50 clusters
    of 5,000 rows: 15 s against 1 s; 500 of 10,000: 60 s) for no gain these metrics can see.
    Fewer distinct rows than clusters (a collapsed set) makes sklearn warn; the surplus
    clusters just stay empty, which the histograms and counts handle."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return KMeans(
            n_clusters=k, init="random", n_init=starts, max_iter=max_iter, random_state=seed
        ).fit(x)


def _blocks(rows: int, cols: int) -> list[slice]:
    step = max(1, _BLOCK_CELLS // max(cols, 1))
    return [slice(start, min(start + step, rows)) for start in range(0, rows, step)]


# --- diversity --------------------------------------------------------------------------


def vendi(x: Matrix, *, sample: int | None = 2000, seed: int = 0) -> Sampled:
    """Vendi score with the cosine kernel: exp of the Shannon entropy of the eigenvalues of
    K/n, K = X Xᵀ; reads as the effective number of distinct rows (1 when all point the same
    way, n for n orthogonal rows, at most the embedding width). The nonzero eigenvalues of
    X Xᵀ/n and Xᵀ X/n coincide, so the smaller of the two (n-by-n or d-by-d) is decomposed: with
    d = 384 that is O(n·d²) instead of O(n³), and the sample could be lifted a long way. The
    default sample keeps the figure comparable across dataset sizes."""
    rows = _unit64(_sample(x, sample, np.random.default_rng(seed)))
    n, d = rows.shape
    if n == 0:
        return {"value": None, "sample": 0}
    gram = rows @ rows.T if n <= d else rows.T @ rows
    eig = scipy.linalg.eigvalsh(gram / n)
    eig = eig[eig > 0]
    return {"value": float(np.exp(-np.sum(eig * np.log(eig)))), "sample": n}


def mean_pairwise_cosine(x: Matrix, *, sample: int | None = 5000, seed: int = 0) -> Sampled:
    """Mean cosine similarity over ordered pairs i ≠ j, without the n-by-n matrix: for unit rows
    Σᵢ≠ⱼ xᵢ·xⱼ = ‖Σᵢ xᵢ‖² - Σᵢ ‖xᵢ‖², which is O(n·d). Subtracting Σ‖xᵢ‖² rather than n
    counts an all-zero row as similarity 0 to everything instead of distorting the mean."""
    rows = _unit64(_sample(x, sample, np.random.default_rng(seed)))
    n = len(rows)
    if n < 2:
        return {"value": None, "sample": n}
    total = rows.sum(axis=0)
    off_diagonal = float(total @ total) - float(np.einsum("ij,ij->", rows, rows))
    return {"value": off_diagonal / (n * (n - 1)), "sample": n}


# --- realism against a reference ---------------------------------------------------------


def _kth_neighbour_radii(x: Matrix, k: int) -> NDArray[np.float64]:
    """Euclidean distance from each row to its k-th nearest other row, exactly as ``prdc``
    takes it (the (k+1)-th smallest distance in the row, the row itself being the first),
    through the same ``pairwise_distances`` but one block of rows at a time."""
    radii = np.empty(len(x), dtype=np.float64)
    for rows in _blocks(len(x), len(x)):
        dist = pairwise_distances(x[rows], x, metric="euclidean")
        radii[rows] = np.partition(dist, k, axis=1)[:, k]
    return radii


def prdc(
    real: Matrix, fake: Matrix, *, k: int = 5, sample: int | None = 5000, seed: int = 0
) -> PRDC:
    """Precision, recall, density and coverage (Naeem et al. 2020) with Euclidean k-NN balls
    over the embeddings, the same numbers as ``prdc.compute_prdc(real_features=real,
    fake_features=fake, nearest_k=k)`` on the sampled rows. The package holds three full
    distance matrices; here the real-by-fake distances are walked in row blocks (~64 MB each)
    and the four statistics accumulated, so memory stays flat in the sample sizes.
    Precision/density: fake rows inside real k-NN balls (fidelity; density counts overlapping
    balls and so resists real outliers). Recall: real rows inside fake balls. Coverage: real
    balls holding at least one fake row (diversity, robust to fake outliers)."""
    rng = np.random.default_rng(seed)
    real_s, fake_s = _sample(real, sample, rng), _sample(fake, sample, rng)
    n_real, n_fake = len(real_s), len(fake_s)
    result: PRDC = {
        "precision": None,
        "recall": None,
        "density": None,
        "coverage": None,
        "k": k,
        "real_sample": n_real,
        "fake_sample": n_fake,
    }
    if k < 1 or n_real <= k or n_fake <= k:
        return result
    real_radii = _kth_neighbour_radii(real_s, k)
    fake_radii = _kth_neighbour_radii(fake_s, k)
    balls_holding = np.zeros(n_fake, dtype=np.int64)  # real balls containing each fake row
    real_recalled = np.zeros(n_real, dtype=bool)
    real_nearest_fake = np.empty(n_real, dtype=np.float64)
    for rows in _blocks(n_real, n_fake):
        dist = pairwise_distances(real_s[rows], fake_s, metric="euclidean")
        balls_holding += (dist < real_radii[rows, None]).sum(axis=0)
        real_recalled[rows] = (dist < fake_radii[None, :]).any(axis=1)
        real_nearest_fake[rows] = dist.min(axis=1)
    result["precision"] = float(np.mean(balls_holding > 0))
    result["recall"] = float(np.mean(real_recalled))
    result["density"] = float(np.mean(balls_holding) / k)
    result["coverage"] = float(np.mean(real_nearest_fake < real_radii))
    return result


def _divergence_curve(
    p: NDArray[np.float64], q: NDArray[np.float64], points: int, scaling: float
) -> NDArray[np.float64]:
    """MAUVE's divergence frontier: for mixtures r = w·p + (1-w)·q, the points
    (exp(-c·KL(q‖r)), exp(-c·KL(p‖r))), with the two extreme points (1, 0) and (0, 1).
    r > 0 wherever p or q is, so no KL term is infinite."""
    w = np.linspace(1e-6, 1 - 1e-6, points)[:, None]
    mix = w * p[None, :] + (1 - w) * q[None, :]

    def kl(a: NDArray[np.float64]) -> NDArray[np.float64]:
        ratio = np.divide(a, mix, out=np.ones_like(mix), where=a > 0)  # 0·log 0 = 0
        out: NDArray[np.float64] = (a * np.log(ratio)).sum(axis=1)
        return out

    inner = np.stack([np.exp(-scaling * kl(q)), np.exp(-scaling * kl(p))], axis=1)
    return np.vstack([[1.0, 0.0], inner, [0.0, 1.0]])


def mauve(
    p: Matrix,
    q: Matrix,
    *,
    sample: int | None = 5000,
    num_buckets: int | Literal["auto"] = "auto",
    explained_variance: float = 0.9,
    kmeans_num_redo: int = 5,
    kmeans_max_iter: int = 500,
    scaling_factor: float = 5.0,
    curve_points: int = 25,
    seed: int = 0,
) -> Mauve:
    """MAUVE between feature sets p (say the reference) and q (the dataset), as mauve-text's
    ``compute_mauve(p_features=p, q_features=q)`` computes it by default: rows L2-normalised,
    PCA over both keeping the fewest components reaching ``explained_variance``, k-means into
    ``num_buckets`` clusters ("auto": min(len)/10, at least 2), the two cluster histograms,
    their divergence frontier with scaling ``c = 5``, and the area under it (1 = same
    distribution, → 0 = disjoint). Two departures: scikit-learn's k-means replaces faiss's
    (same random-row starts, best of ``kmeans_num_redo``, but Lloyd stops on convergence, not
    after all ``kmeans_max_iter`` rounds), so the clusters differ and the score with them, by
    about as much as the package's own varies between its seeds (a few hundredths); and each
    side is first sampled to ``sample`` rows, since k-means costs rows x clusters and the
    clusters grow with the rows."""
    rng = np.random.default_rng(seed)
    p_s, q_s = _sample(p, sample, rng), _sample(q, sample, rng)
    result: Mauve = {
        "value": None,
        "clusters": None,
        "p_sample": len(p_s),
        "q_sample": len(q_s),
        "pca_components": None,
        "scaling_factor": float(scaling_factor),
    }
    if len(p_s) == 0 or len(q_s) == 0:
        return result
    buckets = max(2, round(min(len(p_s), len(q_s)) / 10)) if num_buckets == "auto" else num_buckets
    data = _unit64(np.vstack([q_s, p_s]))  # q first, as mauve stacks them
    if buckets > len(data):
        return result
    pca = PCA(n_components=None, whiten=False, random_state=seed + 1).fit(data)
    components = int(np.argmax(np.cumsum(pca.explained_variance_ratio_) >= explained_variance))
    reduced = pca.transform(data)[:, : components + 1].astype(np.float32)
    labels = _kmeans(reduced, buckets, kmeans_num_redo, kmeans_max_iter, seed + 2).labels_
    q_hist = np.bincount(labels[: len(q_s)], minlength=buckets).astype(np.float64)
    p_hist = np.bincount(labels[len(q_s) :], minlength=buckets).astype(np.float64)
    curve = _divergence_curve(
        p_hist / p_hist.sum(), q_hist / q_hist.sum(), curve_points, scaling_factor
    )
    x, y = curve.T
    by_x, by_y = np.argsort(x), np.argsort(y)
    value = 0.5 * (auc(x[by_x], y[by_x]) + auc(y[by_y], x[by_y]))
    return {**result, "value": float(value), "clusters": buckets, "pca_components": components + 1}


def c2st_auc(
    a: Matrix,
    b: Matrix,
    *,
    folds: int = 5,
    sample: int | None = 5000,
    c: float = 1.0,
    max_iter: int = 1000,
    seed: int = 0,
) -> C2ST:
    """Classifier two-sample test (Lopez-Paz & Oquab 2017): the stratified k-fold
    cross-validated ROC AUC of a logistic regression told to separate a from b. 0.5 = it
    cannot tell them apart; 1 = every row gives its origin away. Both sides are sampled to
    the same size (min of the two and ``sample``) so the AUC is not bent by class imbalance.
    A linear model on standardised embeddings is the weakest reasonable judge: an AUC well
    above 0.5 is a real, explainable difference, not a flexible classifier's overfit."""
    rng = np.random.default_rng(seed)
    size = min(len(a), len(b)) if sample is None else min(len(a), len(b), sample)
    a_s, b_s = _sample(a, size, rng), _sample(b, size, rng)
    value = None
    if folds >= 2 and size >= folds:
        features = np.vstack([a_s, b_s]).astype(np.float64)
        labels = np.repeat(np.array([0, 1], dtype=np.int64), size)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        scores = cross_val_score(model, features, labels, cv=splits, scoring="roc_auc")
        value = float(np.mean(scores))
    return {
        "value": value,
        "classifier": f"LogisticRegression(C={c}, max_iter={max_iter}) on standardised features",
        "folds": folds,
        "a_sample": len(a_s),
        "b_sample": len(b_s),
    }


# --- collapse -----------------------------------------------------------------------------


def _total_variance(x: Matrix) -> float | None:
    """Trace of the (ddof = 1) covariance, in float64 one block at a time so 100,000 float32
    rows never turn into a float64 copy."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of embeddings, got shape {x.shape}")
    if len(x) < 2:
        return None
    mean = x.mean(axis=0, dtype=np.float64)
    squares = 0.0
    for rows in _blocks(len(x), x.shape[1]):
        centred = x[rows].astype(np.float64) - mean
        squares += float(np.einsum("ij,ij->", centred, centred))
    return squares / (len(x) - 1)


def variance_ratio(dataset: Matrix, reference: Matrix) -> float | None:
    """Total variance of the dataset over that of the reference: 1 = as spread out, ≪ 1 =
    collapsed toward a few points. Uses every row (it is linear in them). ``None`` with under
    two rows on either side or a reference of identical rows."""
    ours, theirs = _total_variance(dataset), _total_variance(reference)
    if ours is None or theirs is None or theirs <= 0:
        return None
    return ours / theirs


def cluster_coverage(
    dataset: Matrix,
    reference: Matrix,
    *,
    clusters: int | None = None,
    tail_mass: float = 0.25,
    sample: int | None = 10_000,
    seed: int = 0,
) -> ClusterCoverage:
    """Which regions of the reference the dataset reaches, and whether it keeps the rare ones.

    k-means on the reference (k = ``clusters``, by default min(50, max(2, len(reference)//5));
    fitted on at most ``sample`` reference rows, best of 5 random starts); every reference
    and dataset row then goes to its nearest centroid. The counts are returned per cluster,
    most populous reference cluster first.

    ``coverage``: share of the (non-empty) reference clusters that receive at least one
    dataset row.

    ``tail_retention``: walking from the rarest reference cluster up, the tail is the
    clusters whose reference counts add up to at most ``tail_mass`` of the reference (always
    at least the rarest one, never all); the rest is the head. With t_ref, t_ds the reference
    and dataset shares falling in the tail,
    tail_retention = (t_ds / t_ref) / ((1 - t_ds) / (1 - t_ref)): the odds ratio of landing in
    the tail, dataset against reference. 1 = the tail kept in proportion, 0 = the tail lost,
    > 1 = over-represented. ``None`` when the dataset has no row in the head (the ratio is
    infinite), or there are no rows. A ratio of ratios rather than t_ds alone, so a dataset
    that merely misses some of the head is not credited with a better tail. Read it with the
    cluster size in mind: at ~20 reference rows per cluster k-means fits the reference's own
    stray points, and a fresh sample of the same distribution scores ~0.8 (0.6-1.0 over
    seeds); at ~100 rows per cluster, ~1.05."""
    ref, data = np.asarray(reference), np.asarray(dataset)
    rng = np.random.default_rng(seed)
    fit_rows = _sample(ref, sample, rng)
    result: ClusterCoverage = {
        "coverage": None,
        "tail_retention": None,
        "clusters": None,
        "tail_clusters": None,
        "tail_mass": float(tail_mass),
        "reference_counts": [],
        "dataset_counts": [],
        "reference_fit_sample": len(fit_rows),
    }
    k = min(50, max(2, len(ref) // 5)) if clusters is None else clusters
    if len(data) == 0 or len(fit_rows) < max(k, 2):
        return result
    model = _kmeans(fit_rows.astype(np.float32), k, 5, 300, seed)
    # float32 like the centroids (a float64 array would make predict copy and convert it)
    ref_counts = np.bincount(model.predict(ref.astype(np.float32, copy=False)), minlength=k)
    data_counts = np.bincount(model.predict(data.astype(np.float32, copy=False)), minlength=k)
    order = np.lexsort((np.arange(k), -ref_counts))  # most populous first, ties by label
    ref_counts, data_counts = ref_counts[order], data_counts[order]
    occupied = ref_counts > 0
    # tail: the longest run of rarest clusters within tail_mass, at least one, never all
    from_rarest = np.cumsum(ref_counts[::-1]) <= tail_mass * ref_counts.sum()
    tail_size = min(max(1, int(from_rarest.sum())), k - 1)
    tail = np.zeros(k, dtype=bool)
    tail[k - tail_size :] = True
    t_ref = ref_counts[tail].sum() / ref_counts.sum()
    t_ds = data_counts[tail].sum() / data_counts.sum()
    retention = None
    if 0 < t_ref < 1 and t_ds < 1:
        retention = float((t_ds / t_ref) / ((1 - t_ds) / (1 - t_ref)))
    return {
        **result,
        "coverage": float(np.mean(data_counts[occupied] > 0)),
        "tail_retention": retention,
        "clusters": k,
        "tail_clusters": tail_size,
        "reference_counts": [int(v) for v in ref_counts],
        "dataset_counts": [int(v) for v in data_counts],
    }


# --- map ----------------------------------------------------------------------------------


def projection_2d(
    dataset: Matrix, reference: Matrix, *, sample: int | None = 2000, seed: int = 0
) -> Projection:
    """Both sets on the first two principal axes of their union (a sample of each), for the
    report's embedding map. PCA, not t-SNE/UMAP: linear, deterministic and fast, and
    distances along its axes mean what they say, so a collapsed dataset shows up as a
    tight knot inside the reference cloud rather than as an artefact of the layout."""
    rng = np.random.default_rng(seed)
    data_s, ref_s = _sample(dataset, sample, rng), _sample(reference, sample, rng)
    both = np.vstack([data_s, ref_s]).astype(np.float64)
    points, explained = np.zeros((0, 2)), np.zeros(0)
    if len(both) >= 2 and both.shape[1] >= 2:
        pca = PCA(n_components=2, random_state=seed).fit(both)
        points, explained = np.round(pca.transform(both), 4), pca.explained_variance_ratio_
    return {
        "dataset": [[float(x), float(y)] for x, y in points[: len(data_s)]],
        "reference": [[float(x), float(y)] for x, y in points[len(data_s) :]],
        "dataset_sample": len(data_s),
        "reference_sample": len(ref_s),
        "explained_variance": [round(float(v), 4) for v in explained],
    }
