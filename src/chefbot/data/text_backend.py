"""Exact, fast tokenization of plain texts: a tiktoken copy of a byte-level BPE tokenizer.

``ChatEncoder`` lays the chat template out once and tokenizes only the texts that hold
message contents.  Those texts go through one of two backends, which must give the same
ids as ``tokenizer.backend_tokenizer.encode_batch(texts, add_special_tokens=False)``:

- ``tokenizers`` (``ReferenceText``): that call itself, the reference.
- ``tiktoken`` (``TiktokenText``): OpenAI's BPE library, about 6x faster on one core,
  built from the tokenizer's own vocabulary (``convert``).  It reproduces a byte-level BPE
  exactly when the tokenizer is nothing more than: added tokens split out first (special
  or not, no strip/single-word/normalized flags), an NFC normalizer or none, one regex
  split (or GPT-2's ByteLevel regex) followed by the byte-to-unicode alphabet, and a BPE
  whose merge order is its id order and whose every token is reachable by its merges
  (tiktoken ranks merges by the merged token's id and returns a whole piece that is in the
  vocabulary as that token).  ``convert`` checks each of these on the tokenizer and raises
  ``NotConvertible`` with the reason otherwise: SentencePiece/Unigram/WordPiece models,
  byte fallback, other normalizers or pre-tokenizers.

Texts the tiktoken copy cannot vouch for go to the reference, one by one (``stats``
counts them): characters that Python's Unicode database (used here for NFC) does not know,
which a newer Unicode version in ``tokenizers`` could compose or classify differently,
surrogates, and bytes missing from the vocabulary (``tokenizers`` skips them).  Texts
that are not NFC are split at the added tokens and normalized piece by piece, as
``tokenizers`` does (``"<|im_end|>" + U+0338`` must not compose into ``"|≯"``).

``check`` compares the two backends id for id on a sample of the run's own texts plus
``ADVERSARIAL`` and names the first difference; ``prepare`` falls back to ``tokenizers``
when there is one.  Either way the ids are the reference's, so the backend is not part
of the cache fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from chefbot.errors import DataError

BACKENDS = ("auto", "tiktoken", "tokenizers")

# GPT-2's pre-tokenization regex: what tokenizers' ByteLevel(use_regex=True) splits with.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


class NotConvertible(Exception):
    """The tokenizer is not a byte-level BPE that tiktoken reproduces exactly; the message says why."""


def requested_backend(data_cfg: Any) -> str:
    """``data.tokenizer_backend`` (auto, tiktoken or tokenizers; the config validates it)."""
    value = data_cfg.tokenizer_backend
    if value not in BACKENDS:
        raise DataError(f"data.tokenizer_backend={value!r}: expected one of {', '.join(BACKENDS)}")
    return value


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table, the alphabet of byte-level BPE vocabularies."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


@cache
def _unknown_char(c: str) -> bool:
    """Not in Python's Unicode database (unassigned there) or a surrogate."""
    return unicodedata.category(c) in ("Cn", "Cs")


class ReferenceText:
    """The ``tokenizers`` backend: the tokenizer's own Rust encoder (or the slow tokenizer)."""

    name = "tokenizers"

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        self.backend = getattr(tokenizer, "backend_tokenizer", None)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        if not texts:
            return []
        if self.backend is not None:
            return [e.ids for e in self.backend.encode_batch(list(texts), add_special_tokens=False)]
        return self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]


@dataclass
class _Conversion:
    """What ``convert`` derives from a tokenizer's backend (shared by equal backends)."""

    encoding: Any  # tiktoken.Encoding
    nfc: bool
    specials: dict[str, int]  # added tokens split out of the text before BPE
    missing: frozenset[int]  # bytes with no token of their own (tokenizers skips them)
    description: str


_CONVERSIONS: dict[str, _Conversion | str] = {}  # sha256 of the backend's JSON -> conversion or reason


class TiktokenText:
    """The ``tiktoken`` backend; same ids as ``ReferenceText`` (see the module docstring)."""

    name = "tiktoken"

    def __init__(self, tokenizer: Any, conv: _Conversion):
        self.reference = ReferenceText(tokenizer)
        self.description = conv.description
        self._enc = conv.encoding
        self._nfc = conv.nfc
        self._specials = conv.specials
        self._all_special = frozenset(conv.specials)
        firsts = {t[0] for t in conv.specials}
        self._special_firsts = tuple(firsts) if len(firsts) <= 4 else None  # None: always look for them
        self._split = (
            re.compile("|".join(re.escape(t) for t in sorted(conv.specials, key=len, reverse=True)))
            if conv.specials
            else None
        )
        missing = conv.missing
        self._unsafe_ascii = (
            re.compile("[" + "".join(re.escape(chr(b)) for b in sorted(missing) if b < 128) + "]")
            if any(b < 128 for b in missing)
            else None
        )
        self._unsafe = lru_cache(maxsize=None)(
            lambda c: _unknown_char(c) or (bool(missing) and not missing.isdisjoint(c.encode("utf-8", "surrogatepass")))
        )
        self._latin1_safe = not any(self._unsafe(chr(i)) for i in range(128, 256))
        self.stats = {"tiktoken": 0, "tokenizers": 0}  # texts encoded by each (tokenizers: sent on by the guard)

    # -- per text
    def needs_reference(self, text: str) -> bool:
        """True for texts the guard sends to tokenizers (see the module docstring)."""
        if text.isascii():
            return self._unsafe_ascii is not None and self._unsafe_ascii.search(text) is not None
        if self._latin1_safe and len(text.encode("latin-1", "ignore")) == len(text):
            return False
        unsafe = self._unsafe
        return any(unsafe(c) for c in set(text))

    def _encode_one(self, text: str) -> list[int]:
        enc = self._enc
        if self._nfc and not text.isascii() and not unicodedata.is_normalized("NFC", text):
            return self._encode_pieces(text)
        firsts = self._special_firsts
        if self._specials and (firsts is None or any(c in text for c in firsts)):
            return enc.encode(text, allowed_special=self._all_special, disallowed_special=())
        return enc.encode_ordinary(text)

    def encode_unguarded(self, text: str) -> list[int]:
        """One text through tiktoken even where the guard would send it to tokenizers (for checks)."""
        return self._encode_one(text)

    def _encode_pieces(self, text: str) -> list[int]:
        """Added tokens split out first, then each piece normalized on its own (as tokenizers does)."""
        out: list[int] = []
        pos = 0
        matches = self._split.finditer(text) if self._split is not None else ()
        for m in matches:
            if m.start() > pos:
                out += self._enc.encode_ordinary(unicodedata.normalize("NFC", text[pos : m.start()]))
            out.append(self._specials[m.group(0)])
            pos = m.end()
        if pos < len(text):
            out += self._enc.encode_ordinary(unicodedata.normalize("NFC", text[pos:]))
        return out

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        out: list[Any] = [None] * len(texts)
        deferred: list[int] = []
        needs_ref, one = self.needs_reference, self._encode_one
        for i, t in enumerate(texts):
            if needs_ref(t):
                deferred.append(i)
            else:
                out[i] = one(t)
        if deferred:
            for i, ids in zip(deferred, self.reference.encode([texts[i] for i in deferred])):
                out[i] = ids
        self.stats["tiktoken"] += len(texts) - len(deferred)
        self.stats["tokenizers"] += len(deferred)
        return out


# ---------------------------------------------------------------- conversion


def _pattern(pre: Any) -> str:
    """The one regex that splits text into BPE pieces, from tokenizers' pre-tokenizer JSON."""
    if not isinstance(pre, dict):
        raise NotConvertible("no pre-tokenizer (a byte-level BPE has a ByteLevel one)")
    kind = pre.get("type")
    if kind == "ByteLevel":
        if pre.get("add_prefix_space"):
            raise NotConvertible("ByteLevel pre-tokenizer with add_prefix_space=true")
        if not pre.get("use_regex", True):
            raise NotConvertible("ByteLevel pre-tokenizer without a split regex")
        return GPT2_PATTERN
    if kind == "Sequence":
        steps = pre.get("pretokenizers") or []
        if len(steps) == 2 and steps[0].get("type") == "Split" and steps[1].get("type") == "ByteLevel":
            split, bl = steps
            regex = (split.get("pattern") or {}).get("Regex")
            if regex is None:
                raise NotConvertible("Split pre-tokenizer on a plain string, not a regex")
            if split.get("behavior") != "Isolated" or split.get("invert"):
                raise NotConvertible(
                    f"Split pre-tokenizer with behavior={split.get('behavior')} invert={split.get('invert')} (only Isolated)"
                )
            if bl.get("add_prefix_space") or bl.get("use_regex"):
                raise NotConvertible("ByteLevel after Split with add_prefix_space or its own regex")
            return regex
        names = "+".join(str(s.get("type")) for s in steps)
        raise NotConvertible(f"pre-tokenizer Sequence[{names}] (supported: Split(regex)+ByteLevel, or ByteLevel)")
    raise NotConvertible(f"pre-tokenizer {kind} (supported: Split(regex)+ByteLevel, or ByteLevel)")


def _convert(backend: Any, spec: dict, split_specials: bool) -> _Conversion:
    try:
        import tiktoken
    except ImportError:
        raise NotConvertible("tiktoken is not installed (pip install tiktoken)") from None
    model = spec.get("model") or {}
    if model.get("type") != "BPE":
        raise NotConvertible(f"model {model.get('type')}, not a byte-level BPE")
    if (
        model.get("dropout")
        or model.get("byte_fallback")
        or model.get("continuing_subword_prefix")
        or model.get("end_of_word_suffix")
    ):
        raise NotConvertible("BPE with dropout, byte fallback or subword prefixes/suffixes")
    if spec.get("truncation") or spec.get("padding"):
        raise NotConvertible("the backend tokenizer truncates or pads")
    norm = spec.get("normalizer")
    if norm is not None and norm.get("type") != "NFC":
        raise NotConvertible(f"normalizer {norm.get('type')} (supported: none or NFC)")
    pattern = _pattern(spec.get("pre_tokenizer"))

    alphabet = bytes_to_unicode()
    vocab: dict[str, int] = model["vocab"]
    stray = set("".join(vocab)) - set(alphabet.values())
    if stray:
        raise NotConvertible(f"vocabulary characters outside the byte-level alphabet, e.g. {sorted(stray)[0]!r}")
    to_bytes = str.maketrans({c: chr(b) for b, c in alphabet.items()})
    ranks = {tok.translate(to_bytes).encode("latin-1"): i for tok, i in vocab.items()}
    if len(set(ranks.values())) != len(ranks):
        raise NotConvertible("two vocabulary entries share an id")
    last = -1
    for n, merge in enumerate(model.get("merges") or []):
        a, b = merge if isinstance(merge, list) else merge.split(" ", 1)
        i = vocab.get(a + b)
        if i is None or a not in vocab or b not in vocab:
            raise NotConvertible(f"merge {n} ({a!r}, {b!r}) names tokens outside the vocabulary")
        if i <= last:
            raise NotConvertible(
                f"merge {n} ({a!r}, {b!r}) makes id {i}, not above the previous merge's {last}: merge order is not id order"
            )
        last = i
    if not model.get("ignore_merges"):
        # tiktoken returns a piece that is itself in the vocabulary as that one token; BPE must get
        # there too.  Added tokens are split out of the text first, so no piece can equal one.
        added = {t["content"] for t in spec.get("added_tokens") or []}
        bpe = backend.model
        for tok, i in vocab.items():
            if len(tok) > 1 and tok.translate(to_bytes).encode("latin-1").decode("utf-8", "replace") not in added:
                got = [t.id for t in bpe.tokenize(tok)]
                if got != [i]:
                    raise NotConvertible(
                        f"vocabulary entry {tok!r} (id {i}) is not what BPE makes of its own bytes ({got})"
                    )
    missing = frozenset(b for b in range(256) if bytes([b]) not in ranks)
    next_id = max([*ranks.values(), *(t["id"] for t in spec.get("added_tokens") or [])], default=-1) + 1
    for k, b in enumerate(sorted(missing)):  # tiktoken needs every byte; texts with these go to the reference
        ranks[bytes([b])] = next_id + k

    specials: dict[str, int] = {}
    for t in spec.get("added_tokens") or []:
        if split_specials and t.get("special"):
            continue  # encode_special_tokens: tokenizers encodes these as plain text too
        if t.get("single_word") or t.get("lstrip") or t.get("rstrip") or (t.get("normalized") and norm is not None):
            raise NotConvertible(f"added token {t['content']!r} has single_word/lstrip/rstrip/normalized set")
        if not t["content"]:
            raise NotConvertible("an empty added token")
        specials[t["content"]] = t["id"]
    for a in specials:
        for b in specials:
            if a != b and b.startswith(a):
                raise NotConvertible(f"added token {a!r} is a prefix of {b!r} (tiktoken would match either)")
    try:
        enc = tiktoken.Encoding("chefbot-converted", pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials)
        enc.encode_ordinary("x")  # compiles the regex
    except BaseException as e:  # a pattern fancy-regex rejects raises a pyo3 panic (BaseException)
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        raise NotConvertible(f"tiktoken cannot build it: {type(e).__name__}: {e}") from None
    desc = f"tiktoken {getattr(tiktoken, '__version__', '?')}: {len(vocab):,} BPE tokens, {len(specials)} added, normalizer {'NFC' if norm else 'none'}"
    return _Conversion(enc, norm is not None, specials, missing, desc)


def convert(tokenizer: Any) -> TiktokenText:
    """A ``TiktokenText`` for ``tokenizer``; ``NotConvertible`` says why there is none.
    Checks the structure only; ``check`` compares ids."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise NotConvertible(f"{type(tokenizer).__name__} is not a fast (Rust) tokenizer")
    text = backend.to_str()
    split_specials = bool(getattr(backend, "encode_special_tokens", False))  # special tokens kept as text
    key = hashlib.sha256(f"{split_specials}:{text}".encode()).hexdigest()
    conv = _CONVERSIONS.get(key)
    if conv is None:
        try:
            conv = _convert(backend, json.loads(text), split_specials)
        except NotConvertible as e:
            conv = str(e)
        _CONVERSIONS[key] = conv
    if isinstance(conv, str):
        raise NotConvertible(conv)
    return TiktokenText(tokenizer, conv)


# ---------------------------------------------------------------- the check


# Texts where a tiktoken copy could go wrong.  ``check`` runs them at the start of every
# prepare; tests/data/test_text_backend.py checks them one by one.
ADVERSARIAL: tuple[str, ...] = (
    # accents, composed and decomposed; combining marks; NFC across an added token
    "Crème brûlée, jalapeño, façade, Ångström",
    "Cre\u0300me bru\u0302le\u0301e, jalapen\u0303o, fac\u0327ade, A\u030angstro\u0308m",
    "\u212b \u2126 \u00c5 A\u030a",
    "e\u0301\u0301\u0327 o\u0328\u0304 \u0301start a\u0338 \u2260 =\u0338",
    "<|im_end|>\u0338 <\u0338|im_start|> \u226f",
    "\u1100\u1161\u11a8 \uac01 \u1100\u1161",
    "\ufb01ne \ufb02our \u00bd \u2153 \u00b2 x\u00b3",
    # emoji, ZWJ sequences, variation selectors, flags, keycaps, skin tones
    "🍕🍔 👩‍🍳 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ ☺\ufe0f 👍🏽 🇮🇹🇯🇵 1️⃣ 葛\U000e0100",
    # CJK and other scripts
    "包子的做法：面粉500克，酵母5克。餃子とラーメン。김치찌개 ต้มยำกุ้ง حمص بالطحينة दाल मखनी борщ שקשוקה",
    "abcабв123αβγ٣٤٥ ١٢ １２３ ①② 〇",
    # digit runs
    "1234567890" * 12,
    "3.14159265358979 1,000,000 1/2 cup 350°F (175°C) 10-12 min 2x 3rd",
    # line ends
    "a\r\nb\rc\nd\r\n\r\ne",
    "\r\r\n\n\r",
    "line \r\n next\r",
    "step 1.\r\n\r\n\r\nstep 2.",
    # runs of spaces and tabs, trailing spaces before newlines
    "a    b\t\tc \t d",
    "   ",
    "\t",
    "trailing   \nnext  \n\n  indented\n\t\ttabbed  ",
    "end  ",
    "  lead",
    " " * 300,
    "\n" * 120,
    "\t" * 50 + "x",
    "x" + " \n" * 40,
    # very long words
    "a" * 5000,
    "pneumonoultramicroscopicsilicovolcanoconiosis" * 40,
    "ab" * 2500 + " " + "é" * 800,
    # contractions
    "it's don't they're we've I'm you'll he'd IT'S DON'T THEY'RE",
    "'s 't 're 've 'm 'll 'd ''s s' '",
    "it\u2019s don\u2019t",
    # Unicode whitespace and invisible characters
    "a\u00a0b\u2000c\u2001d\u2002e\u2003f\u2004g\u2005h\u2006i\u2007j\u2008k\u2009l\u200am",
    "a\u2028b\u2029c\u202fd\u205fe\u3000f\u1680g\u0085h\u180ei\ufeffj\u200bk\u200cl\u200dm\u2060n",
    "\x0b\x0c\x1c\x1d\x1e\x1f \x0b x\x0c",
    # control characters and private use
    "\x00nul \x01\x04\x06\x7f del \x1b[31mred\x1b[0m",
    "\ue000sentinel\ue001 \U000f0000",
    # text that looks like special tokens: matched exactly as tokenizers matches added tokens
    "<|im_end|>",
    "<|im_start|>assistant\n# Soup<|im_end|>\n",
    "<|endoftext|>",
    "text<|im_end|>more<|im_end|><|im_end|>",
    "<|im_end <|im_end| <| im_end |> <|IM_END|> <||im_end||> <<|im_end|>>",
    "<tool_call>\n{}</tool_call> <|fim_prefix|>",
    "<|im_start|>\u0301 <|im_end|>\u00e9 \u00e9<|im_end|>",
    # characters newer than Python's Unicode database (sent to the reference)
    "\U00016d67\U00016d67 \U000113c2\U000113c2 \U0001fbff",
    # punctuation runs, URLs, code
    "“quoted” ‘single’ — – … ® ™ © ° ± × ÷ ¼ ¾",
    "http://example.com/a?b=c&d=e#f C++ x=y+z; {a: [1, 2]} $5 100% #tag @user ...!!!???",
)


def _first_diff(a: list[int], b: list[int]) -> int:
    for k, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return k
    return min(len(a), len(b))


def check(fast: TiktokenText, texts: Sequence[str], label: str) -> str | None:
    """None when ``fast`` gives the reference's ids for every text, else where they first differ."""
    if not texts:
        return None
    mine = [fast.encode_unguarded(t) for t in texts]
    ref = fast.reference.encode(texts)
    for n, (t, a, b) in enumerate(zip(texts, mine, ref)):
        if a != b and not fast.needs_reference(t):
            k = _first_diff(a, b)
            tok = fast.reference.tokenizer
            at = len(tok.decode(b[:k])) if hasattr(tok, "decode") else 0
            return (
                f"text {n + 1} of {len(texts)} ({label}) differs at token {k} (character ~{at}): "
                f"tiktoken {a[k : k + 4]} vs tokenizers {b[k : k + 4]}; text there: {t[max(0, at - 20) : at + 20]!r}"
            )
    return None


@dataclass
class BackendChoice:
    """Which backend a prepare run tokenizes its texts with, and why (goes to stats.json)."""

    requested: str
    used: str = "tokenizers"
    reason: str | None = None  # why not tiktoken
    checked_texts: int = 0  # texts of the run's own data compared id for id
    adversarial_texts: int = 0
    texts: dict[str, int] = field(default_factory=lambda: {"tiktoken": 0, "tokenizers": 0})  # texts tokenized by each
    fallback: str | None = None  # a worker gave up tiktoken mid-run (its per-batch check failed), and why

    def to_dict(self) -> dict:
        return {
            "requested": self.requested,
            "used": self.used if self.fallback is None else f"{self.used}, then tokenizers",
            "reason": self.reason,
            "checked_texts": self.checked_texts,
            "adversarial_texts": self.adversarial_texts,
            "texts": dict(self.texts),
            "fallback_mid_run": self.fallback,
        }


def fast_backend(tokenizer: Any, requested: str) -> tuple[TiktokenText | None, str | None]:
    """The tiktoken copy to try, or (None, why not).  Run before the workers fork: they inherit it."""
    if requested == "tokenizers":
        return None, "tokenizers was requested"
    try:
        return convert(tokenizer), None
    except NotConvertible as e:
        reason = f"tiktoken cannot reproduce this tokenizer: {e}"
        if requested == "tiktoken":
            raise DataError(f"{_REQUIRED}: {reason}") from None
        return None, reason


_REQUIRED = "tokenizer backend tiktoken required (data.tokenizer_backend=tiktoken)"


def decide(fast: TiktokenText, sample: Sequence[str], choice: BackendChoice) -> BackendChoice:
    """Compare tiktoken with tokenizers on the run's first texts and ``ADVERSARIAL``; the
    choice says tiktoken when every id agrees, else tokenizers and the first difference."""
    sample = list(dict.fromkeys(sample))
    choice.checked_texts, choice.adversarial_texts = len(sample), len(ADVERSARIAL)
    diff = check(fast, sample, "the data") or check(fast, ADVERSARIAL, "the built-in adversarial set")
    if diff is None:
        choice.used, choice.reason = "tiktoken", None
    else:
        choice.used, choice.reason = "tokenizers", f"tiktoken differs from tokenizers: {diff}"
        if choice.requested == "tiktoken":
            raise DataError(f"{_REQUIRED}: {choice.reason}")
    return choice
