"""ROUGE-1/2/L/Lsum per item, identical to Google's ``rouge-score``, but fast.

rouge-score is the definition (tokenizer, n-gram and LCS scores, Lsum's union-LCS
with its "no double counting" clipping, and ``scoring.fmeasure``); this module
computes the same numbers ~20x faster, because rouge-score is pure Python and would
take minutes on 10,000 pairs (its LCS table costs ~60 ms for one 380-token answer
against a 120-token reference, and nltk's Porter stemmer is called once per token):

- tokenizer: rouge-score's rule (lower-case, non-alphanumerics to spaces, Porter stem
  for tokens longer than 3 characters) with the stemmer memoised, and each text is
  tokenized once per sentence (the whole-text tokens are those concatenated: a
  sentence boundary is always white space, which the tokenizer drops anyway);
- ROUGE-L: bit-parallel LCS length (Allison-Dix/Hyyro: one big-integer add per token);
- ROUGE-Lsum: the same LCS tables as rouge-score, built with numpy for thousands of
  (reference sentence, candidate sentence) pairs at once, then read out in lock-step
  with rouge-score's backtracking rules and tie-breaking.

``tests/evaluate/test_rouge.py`` checks equality with ``rouge_score.RougeScorer`` to
1e-12 on the reference project's stored outputs, with and without the stemmer.

ROUGE-Lsum treats each line as a sentence (rouge-score splits on "\\n" only, so a text
without newlines is one long "sentence" and Lsum quietly equals L; evaluate#501).
``lsum_text`` therefore puts each sentence on its own line first: lines are kept,
and each line is split after ., ! or ? followed by white space.
"""

from __future__ import annotations

import collections
import functools
import re

import numpy as np
from rouge_score import rouge_scorer, scoring

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
ROUGE_LABELS = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "rougeLsum": "ROUGE-Lsum"}
_SENT_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")  # rouge_score.tokenize.NON_ALPHANUM_PATTERN


def lsum_text(text: str) -> str:
    """One sentence per line, for ROUGE-Lsum."""
    out = []
    for line in (text or "").split("\n"):
        out.extend(s for s in _SENT_END.split(line.strip()) if s)
    return "\n".join(out)


class _CachedStemmer:
    """nltk's PorterStemmer (what rouge-score uses) with a memo: stemming is pure and
    the vocabulary of recipes is small."""

    def __init__(self):
        from nltk.stem import porter

        self._porter = porter.PorterStemmer()
        self.cache: dict[str, str] = {}

    def stem(self, word: str) -> str:
        s = self.cache.get(word)
        if s is None:
            s = self.cache[word] = self._porter.stem(word)
        return s


@functools.lru_cache(maxsize=1)
def porter_stemmer(use_stemmer: bool = True) -> _CachedStemmer | None:
    """rouge-score's Porter stemmer with a word cache, shared by ROUGE and the recipe checks."""
    return _CachedStemmer() if use_stemmer else None


def tokens(text: str, stemmer: bool) -> list[str]:
    """rouge-score's tokenizer: same regex, same stemming rule, same result."""
    toks = _NON_ALNUM.sub(" ", (text or "").lower()).split()
    if stemmer:
        st = porter_stemmer(True)
        cache, stem = st.cache, st.stem
        toks = [(cache.get(t) or stem(t)) if len(t) > 3 else t for t in toks]
        toks = [t for t in toks if t]
    return toks


def lcs_length(a: list, b: list) -> int:
    """Length of the longest common subsequence (bit-parallel, exact)."""
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return 0
    masks: dict = {}
    for i, tok in enumerate(b):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << m) - 1
    v = full
    for tok in a:
        mask = masks.get(tok)
        if mask is None:
            continue
        u = v & mask
        v = ((v + u) | (v - u)) & full
    return m - v.bit_count()


def _ngrams(toks: list[str], n: int) -> collections.Counter:
    return collections.Counter(zip(*(toks[i:] for i in range(n))))


def _f(hits: int, n_ref: int, n_pred: int) -> float:
    if not n_ref or not n_pred:
        return 0.0
    return scoring.fmeasure(hits / n_pred, hits / n_ref)


def _pair_unions(r_ids: np.ndarray, c_ids: np.ndarray, r_len: np.ndarray, c_len: np.ndarray):
    """For many (reference sentence, candidate sentence) pairs at once, the reference
    positions on the LCS that rouge-score's ``_backtrack_norec`` reads out.

    ``r_ids`` [P, Lr] and ``c_ids`` [P, Lc] hold token ids padded with -1/-2 (never equal).
    Returns (pair index, reference position) arrays of the matched cells.
    """
    n_pairs, lr = r_ids.shape
    lc = c_ids.shape[1]
    # table[i, p, j] = LCS(r_p[:i], c_p[:j]); each row from the previous one by the
    # cumulative-max identity cur = cummax(where(match, prev[j-1] + 1, prev[j])), exact
    # for LCS tables because a match cell is never below its left or upper neighbour.
    table = np.zeros((lr + 1, n_pairs, lc + 1), dtype=np.int32)
    for i in range(1, lr + 1):
        prev = table[i - 1]
        t = np.where(c_ids == r_ids[:, i - 1 : i], prev[:, :-1] + 1, prev[:, 1:])
        np.maximum.accumulate(t, axis=1, out=table[i, :, 1:])
    # rouge-score: at (i, j): match -> take it, go diagonal; elif T[i][j-1] > T[i-1][j]
    # -> left; else up. Stop early once the remaining table value is 0 (no more matches).
    p = np.arange(n_pairs)
    i, j = r_len.astype(np.int64), c_len.astype(np.int64)
    live = table[i, p, j] > 0
    p, i, j = p[live], i[live], j[live]
    hit_p, hit_i = [], []
    while len(p):
        match = r_ids[p, i - 1] == c_ids[p, j - 1]
        hit_p.append(p[match])
        hit_i.append(i[match] - 1)
        left = ~match & (table[i, p, j - 1] > table[i - 1, p, j])
        i = i - (~left)
        j = j - (match | left)
        live = (i > 0) & (j > 0)
        live[live] = table[i[live], p[live], j[live]] > 0
        p, i, j = p[live], i[live], j[live]
    if not hit_p:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(hit_p), np.concatenate(hit_i)


_MAX_CELLS = 4_000_000  # int32 cells per LCS table block (16 MB)


def _padded(sents: list[list[int]], pad: int) -> np.ndarray:
    width = max((len(x) for x in sents), default=0) or 1
    out = np.full((len(sents), width), pad, dtype=np.int32)
    lengths = np.fromiter((len(x) for x in sents), dtype=np.int64, count=len(sents))
    flat = np.fromiter((t for x in sents for t in x), dtype=np.int32, count=int(lengths.sum()))
    rows = np.repeat(np.arange(len(sents)), lengths)
    cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[rows, cols] = flat
    return out


def _lsum_hits(ref_sents: list[list[list[str]]], can_sents: list[list[list[str]]]) -> list[int]:
    """rouge-score's ``_summary_level_lcs`` hit counts for a batch of items."""
    vocab: dict[str, int] = {}
    flat_r: list[list[int]] = []  # every reference sentence of the batch, as token ids
    flat_c: list[list[int]] = []
    pair_g, pair_h = [], []  # (global reference sentence, global candidate sentence) sharing a token
    for rs, cs in zip(ref_sents, can_sents):
        g0, h0 = len(flat_r), len(flat_c)
        flat_r += [[vocab.setdefault(t, len(vocab)) for t in s] for s in rs]
        flat_c += [[vocab.setdefault(t, len(vocab)) for t in s] for s in cs]
        if not rs or not cs:
            continue
        # Which sentence pairs share a token: incidence matrices over this item's tokens.
        local: dict[int, int] = {}
        r_inc = np.zeros((len(rs), 1), dtype=np.float32)
        rr = [[local.setdefault(t, len(local)) for t in x] for x in flat_r[g0:]]
        cc = [[local.setdefault(t, len(local)) for t in x] for x in flat_c[h0:]]
        r_inc = np.zeros((len(rr), len(local)), dtype=np.float32)
        c_inc = np.zeros((len(cc), len(local)), dtype=np.float32)
        for a, x in enumerate(rr):
            r_inc[a, x] = 1
        for b, x in enumerate(cc):
            c_inc[b, x] = 1
        ga, hb = np.nonzero(r_inc @ c_inc.T)
        pair_g.append(ga + g0)
        pair_h.append(hb + h0)
    union_keys = []
    if pair_g:
        G, H = np.concatenate(pair_g), np.concatenate(pair_h)
        R, C = _padded(flat_r, -1), _padded(flat_c, -2)
        r_len = np.fromiter(map(len, flat_r), dtype=np.int64, count=len(flat_r))
        c_len = np.fromiter(map(len, flat_c), dtype=np.int64, count=len(flat_c))
        # Group pairs by padded size (4, 8, 16, ... tokens) so padding stays bounded.
        br = np.maximum(2, np.ceil(np.log2(np.maximum(r_len[G], 1)))).astype(np.int64)
        bc = np.maximum(2, np.ceil(np.log2(np.maximum(c_len[H], 1)))).astype(np.int64)
        for key in np.unique(br * 64 + bc):
            sel = np.nonzero(br * 64 + bc == key)[0]
            lr, lc = 1 << int(key // 64), 1 << int(key % 64)
            lr, lc = min(lr, R.shape[1]), min(lc, C.shape[1])
            step = max(1, _MAX_CELLS // ((lr + 1) * (lc + 1)))
            for start in range(0, len(sel), step):
                q = sel[start : start + step]
                hp, hi = _pair_unions(R[G[q], :lr], C[H[q], :lc], r_len[G[q]], c_len[H[q]])
                union_keys.append(G[q][hp] * R.shape[1] + hi)
    keys = np.unique(np.concatenate(union_keys)) if union_keys else np.zeros(0, dtype=np.int64)
    width = max((len(x) for x in flat_r), default=0) or 1
    by_sentence: dict[int, list[int]] = collections.defaultdict(list)
    for g, pos in zip((keys // width).tolist(), (keys % width).tolist()):
        by_sentence[g].append(pos)  # ascending: np.unique sorts
    hits_out, g = [], 0
    for rs, cs in zip(ref_sents, can_sents):
        cnt_r = collections.Counter(t for s in rs for t in s)
        cnt_c = collections.Counter(t for s in cs for t in s)
        hits = 0
        for r in rs:  # reference order, union positions ascending, as rouge-score counts
            for pos in by_sentence.get(g, ()):
                tok = r[pos]
                if cnt_c[tok] > 0 and cnt_r[tok] > 0:
                    hits += 1
                    cnt_c[tok] -= 1
                    cnt_r[tok] -= 1
            g += 1
        hits_out.append(hits)
    return hits_out


def _sentences(text: str, stemmer: bool) -> list[list[str]]:
    return [tokens(s, stemmer) for s in lsum_text(text).split("\n") if s]


def rouge_items(
    references: list[str], predictions: list[str], stemmer: bool, types=ROUGE_TYPES
) -> dict[str, list[float]]:
    """Per-item F-measure for each ROUGE type, exactly as ``RougeScorer(types, use_stemmer)``
    scores ``(reference, prediction)`` for rouge-N and rougeL, and ``(lsum_text(reference),
    lsum_text(prediction))`` for rougeLsum. Single process; see ``score.per_item_scores``."""
    for t in types:
        if t not in ("rougeL", "rougeLsum") and not re.fullmatch(r"rouge[1-9]", t):
            raise ValueError(f"unknown ROUGE type {t!r}; use {', '.join(ROUGE_TYPES)}")
    ref_s = [_sentences(x, stemmer) for x in references]
    pred_s = [_sentences(x, stemmer) for x in predictions]
    out: dict[str, list[float]] = {t: [] for t in types}
    for rs, ps in zip(ref_s, pred_s):
        ref_t = [t for s in rs for t in s]
        pred_t = [t for s in ps for t in s]
        for typ in types:
            if typ == "rougeL":
                out[typ].append(_f(lcs_length(ref_t, pred_t), len(ref_t), len(pred_t)))
            elif typ != "rougeLsum":
                n = int(typ[5:])
                s = rouge_scorer._score_ngrams(_ngrams(ref_t, n), _ngrams(pred_t, n))
                out[typ].append(s.fmeasure)
    if "rougeLsum" in types:
        hits = _lsum_hits(ref_s, pred_s)
        for h, rs, ps in zip(hits, ref_s, pred_s):
            out["rougeLsum"].append(_f(h, sum(map(len, rs)), sum(map(len, ps))))
    return out
