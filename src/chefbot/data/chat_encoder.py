"""``ChatEncoder``: the fast, batched path from conversations to token ids and labels.

``tokenize.encode_example`` (the reference path) renders the template for every
example; ``ChatEncoder``, the path ``prepare`` uses at 2.23M rows, renders it once per
message layout with sentinel contents, substitutes the real contents as text, and
tokenizes in batches (only the pieces that hold message contents, where it can).  The
first example of every batch is also encoded by ``encode_example`` and must agree; on a
mismatch the encoder first gives up the tiktoken text backend, if it uses it
(``text_backend``), and then moves to its next mode ("pieces", "whole", "reference"),
each for good.  Constant pieces (role headers) are always tokenized by ``tokenizers``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain, repeat
from typing import Any

import numpy as np

from chefbot.chat import adapt_to_template
from chefbot.data.text_backend import ReferenceText, TiktokenText
from chefbot.data.tokenize import (
    IGNORE_INDEX,
    Message,
    build_labels,
    encode_example,
    end_of_answer,
    finish_example,
    special_ids,
    split_conversation,
)
from chefbot.errors import DataError

_SENTINEL = "\ue000{}\ue001"  # private-use characters: never in recipes, kept verbatim by templates


class _Slot:
    """Template text that holds message contents (at sentinels), filled in per example."""

    def __init__(self, text: str):
        parts = re.split("\ue000(\\d+)\ue001", text)
        self.literals = parts[0::2]
        self.index = [int(i) for i in parts[1::2]]

    def fill(self, contents: Sequence[str]) -> str:
        if len(self.index) == 1:  # every piece of the usual templates
            return self.literals[0] + contents[self.index[0]] + self.literals[1]
        out = [self.literals[0]]
        for i, lit in zip(self.index, self.literals[1:]):
            out += (contents[i], lit)
        return "".join(out)


class _Layout:
    """The template for one role sequence, cut into pieces at its special tokens.

    Text between two special tokens tokenizes independently of its neighbours (the
    tokenizer splits out added special tokens before normalizing and pre-tokenizing),
    so constant pieces (the role headers) are tokenized once, a piece whose text is the
    same for a whole batch (the system turn) once per batch, and only the pieces holding
    the user's message or the answer per example.
    """

    def __init__(self, pieces: list, cut: int, cut_prompt: Any):
        self.pieces = pieces  # [list[int] constant ids (a special token is a one-id piece) | _Slot]
        self.cut = cut  # index of the piece in which the prompt ends (len(pieces): after the last)
        self.cut_prompt = cut_prompt  # that piece's prompt part (list[int] constant, or _Slot)


class _Flat:
    """Encoded examples as flat arrays, so no Python object is made per token: ``tokens``
    holds the kept examples back to back; ``lengths`` is 0 where no answer token fits."""

    def __init__(self, tokens: np.ndarray, lengths: np.ndarray, n_prompt: np.ndarray):
        self.tokens, self.lengths, self.n_prompt = tokens, lengths, n_prompt

    @classmethod
    def from_lists(cls, raw: Sequence[tuple[list[int], int] | None]) -> _Flat:
        n = len(raw)
        lengths = np.fromiter((len(r[0]) if r else 0 for r in raw), np.int32, count=n)
        n_prompt = np.fromiter((r[1] if r else 0 for r in raw), np.int32, count=n)
        tokens = np.fromiter(chain.from_iterable(r[0] for r in raw if r), np.int32, count=int(lengths.sum()))
        return cls(tokens, lengths, n_prompt)

    @classmethod
    def truncate(cls, flat: np.ndarray, full: np.ndarray, n_prompt: np.ndarray, max_length: int) -> _Flat:
        """Keep each example's first ``max_length`` tokens (the recipe's tail is cut, never the
        prompt); an example left without an answer token is dropped (length 0)."""
        kept = np.minimum(full, max_length)
        ok = kept > n_prompt
        lengths = np.where(ok, kept, 0)
        src, dst = np.cumsum(full) - full, np.cumsum(lengths) - lengths
        idx = np.repeat(src - dst, lengths) + np.arange(int(lengths.sum()))
        return cls(flat[idx], lengths.astype(np.int32), np.where(ok, n_prompt, 0).astype(np.int32))

    def lists(self) -> list[tuple[list[int], int] | None]:
        toks, out, at = self.tokens.tolist(), [], 0
        for n, p in zip(self.lengths.tolist(), self.n_prompt.tolist()):
            out.append((toks[at : at + n], p) if n else None)
            at += n
        return out

    def example(self, i: int) -> dict | None:
        """Example ``i`` in ``encode_example``'s form."""
        n, p = int(self.lengths[i]), int(self.n_prompt[i])
        if not n:
            return None
        at = int(self.lengths[:i].sum())
        ids = self.tokens[at : at + n].tolist()
        return {"input_ids": ids, "labels": build_labels(ids, p).tolist()}


class ChatEncoder:
    """Batched encoding with the template rendered once per message layout.

    Modes, tried in order and each checked against ``encode_example`` on the first
    example of every batch: "pieces" (tokenize only the variable pieces), "whole"
    (substitute contents into the rendered template text and tokenize prompt and
    conversation), "reference" (``encode_example`` for every example).
    """

    MODES = ("pieces", "whole", "reference")

    def __init__(self, tokenizer: Any, max_length: int, fold: str = "auto", fast_text: TiktokenText | None = None):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.fold = fold
        self.specials = special_ids(tokenizer)
        self.mode = "pieces"
        self._templates: dict[tuple[str, ...], Any] = {}
        self._pieces: dict[tuple[str, ...], _Layout | None] = {}
        self._reference = ReferenceText(tokenizer)
        self._fast = fast_text
        self._text = fast_text or self._reference  # the backend for texts with message contents
        self.fallbacks = 0  # examples encoded by the reference path
        self._ref_texts = 0  # texts the text backend "tokenizers" tokenized
        self.backend_fallback: str | None = None  # why the tiktoken backend was given up mid-run

    @property
    def text_backend(self) -> str:
        """ "tiktoken" or "tokenizers": what tokenizes the texts that hold message contents."""
        return self._text.name

    def use_backend(self, name: str) -> None:
        """Tokenize texts with "tiktoken" (when this encoder was given one) or "tokenizers"."""
        self._text = (
            self._fast
            if name == "tiktoken" and self._fast is not None and self.backend_fallback is None
            else self._reference
        )

    def text_stats(self) -> dict[str, int]:
        """Texts with message contents tokenized so far, by backend (the tiktoken backend
        sends the few it cannot vouch for to tokenizers)."""
        fast = self._fast.stats if self._fast is not None else {}
        return {"tiktoken": fast.get("tiktoken", 0), "tokenizers": self._ref_texts + fast.get("tokenizers", 0)}

    # -- helpers
    def _encode(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        if self._text is self._reference:
            self._ref_texts += len(texts)
        return self._text.encode(texts)

    def _encode_ref(self, texts: list[str]) -> list[list[int]]:
        return self._reference.encode(texts) if texts else []

    def _template(self, roles: tuple[str, ...]):
        """(prompt parts, full parts, suffix text) split at the sentinels, or None."""
        if roles not in self._templates:
            n = len(roles)
            msgs = [{"role": r, "content": _SENTINEL.format(i)} for i, r in enumerate(roles)]
            try:
                prompt, full, suffix = split_conversation(self.tokenizer, msgs, _SENTINEL.format(n))
            except DataError:
                self._templates[roles] = None
                return None
            pp, fp = _split_on_sentinels(prompt, n), _split_on_sentinels(full, n + 1)
            self._templates[roles] = (prompt, full, suffix, pp, fp) if pp is not None and fp is not None else None
        return self._templates[roles]

    def _layout(self, roles: tuple[str, ...]) -> _Layout | None:
        if roles in self._pieces:
            return self._pieces[roles]
        self._pieces[roles] = layout = self._build_layout(roles)
        return layout

    def _build_layout(self, roles: tuple[str, ...]) -> _Layout | None:
        tpl = self._template(roles)
        if tpl is None:
            return None
        prompt, full, suffix, _, _ = tpl
        decoder = getattr(self.tokenizer, "added_tokens_decoder", {})
        special_text = {str(t): int(i) for i, t in decoder.items() if getattr(t, "special", False)}
        if any(
            getattr(decoder[i], "lstrip", False)
            or getattr(decoder[i], "rstrip", False)
            or getattr(decoder[i], "normalized", False)
            for i in special_text.values()
        ):
            return None  # stripping/normalized special tokens change their neighbours' text
        if not special_text:
            return None
        pattern = re.compile("|".join(re.escape(t) for t in sorted(special_text, key=len, reverse=True)))
        pieces: list = []
        starts: list[int] = []
        pos = 0
        for m in pattern.finditer(full):
            if m.start() > pos:
                pieces.append(full[pos : m.start()])
                starts.append(pos)
            pieces.append(special_text[m.group(0)])
            starts.append(m.start())
            pos = m.end()
        if pos < len(full):
            pieces.append(full[pos:])
            starts.append(pos)
        n_prompt_chars = len(prompt)
        answer_at = full.index(_SENTINEL.format(len(roles)))
        cut = max(i for i, st in enumerate(starts) if st < n_prompt_chars) if n_prompt_chars else 0
        if isinstance(pieces[cut], int):  # the prompt ends right after a special token
            cut, cut_prompt = cut + 1, ""
        else:
            cut_prompt = pieces[cut][: n_prompt_chars - starts[cut]]
        eot = next((i for i, st in enumerate(starts) if st > answer_at and isinstance(pieces[i], int)), None)
        if eot is None or cut > eot:
            return None
        return _Layout([self._piece(p) for p in pieces[: eot + 1]], cut, self._piece(cut_prompt))

    def _piece(self, p: int | str) -> list[int] | _Slot:
        """A special token id or constant text -> its ids (tokenized once); text with contents -> _Slot."""
        if isinstance(p, int):
            return [p]
        if "\ue000" in p:
            return _Slot(p)
        return self._encode_ref([p])[0] if p else []

    def texts_for(self, conversations: Sequence[tuple[Sequence[Message], str]]) -> list[str]:
        """The texts the text backend tokenizes for these (messages, target) pairs, without
        repeats (the sample ``text_backend.decide`` checks)."""
        out: dict[str, None] = {}
        for msgs, target in conversations:
            msgs = adapt_to_template(msgs, self.tokenizer, self.fold)
            roles = tuple(m["role"] for m in msgs)
            contents = [m["content"] for m in msgs] + [target]
            layout = self._layout(roles) if self.mode == "pieces" else None
            if layout is not None:
                for p in [*layout.pieces, layout.cut_prompt]:
                    if isinstance(p, _Slot):
                        out[p.fill(contents)] = None
                continue
            tpl = self._template(roles)
            if tpl is not None:
                out[_join(tpl[3], contents[:-1])] = None
                out[_join(tpl[4], contents)] = None
        return list(out)

    # -- encoding
    def encode_arrays(self, conversations: Sequence[tuple[Sequence[Message], str]], verify: int = 1):
        """Encode (messages, target) pairs into flat arrays:
        (tokens int32 concatenated, lengths int32 (0 = no target fits), n_prompt int32, truncated bool).
        Labels are implied: IGNORE_INDEX on the first n_prompt tokens, the token itself after (``build_labels``)."""
        flat = self._encode_raw(conversations, verify)
        truncated = np.zeros(len(flat.lengths), dtype=bool)
        kept = flat.lengths > 0
        last = flat.tokens[np.cumsum(flat.lengths, dtype=np.int64)[kept] - 1]
        truncated[kept] = ~np.isin(last, np.array(sorted(self.specials), dtype=np.int64))
        return flat.tokens, flat.lengths, flat.n_prompt, truncated

    def encode_batch(
        self, conversations: Sequence[tuple[Sequence[Message], str]], verify: int = 1
    ) -> list[dict | None]:
        """Like ``encode_example`` for many (messages, target) pairs, batched."""
        return [
            None if r is None else {"input_ids": r[0], "labels": build_labels(r[0], r[1]).tolist()}
            for r in self._encode_raw(conversations, verify).lists()
        ]

    def _encode_raw(self, conversations, verify: int) -> _Flat:
        """The encoded pairs.  The first ``verify`` pairs are also encoded by the reference
        path and must agree, else the next mode is used from now on."""
        tok = self.tokenizer
        adapted = [(adapt_to_template(m, tok, self.fold), t) for m, t in conversations]
        while True:
            if self.mode == "reference":
                self.fallbacks += len(adapted)
                refs = [encode_example(m, t, tok, self.max_length, fold="never") for m, t in adapted]
                return _Flat.from_lists(
                    [None if e is None else (e["input_ids"], e["labels"].count(IGNORE_INDEX)) for e in refs]
                )
            out = self._encode_pieces(adapted) if self.mode == "pieces" else self._encode_whole(adapted)
            bad = None
            for i in range(min(verify, len(adapted))):
                msgs, target = adapted[i]
                if out.example(i) != encode_example(msgs, target, tok, self.max_length, fold="never"):
                    bad = i
                    break
            if bad is None:
                return out
            if self._text is not self._reference:  # tiktoken first: tokenizers is the reference
                self.backend_fallback = (
                    f"mode {self.mode}: a batch's example {bad + 1} encoded with tiktoken differs from encode_example; "
                    "tokenizers from here on"
                )
                self._text = self._reference
                continue
            self.mode = self.MODES[self.MODES.index(self.mode) + 1]

    def _encode_pieces(self, adapted) -> _Flat:
        groups: dict[int, tuple[_Layout, list[int]]] = {}
        for i, (msgs, _) in enumerate(adapted):
            layout = self._layout(tuple(m["role"] for m in msgs))
            if layout is None:
                return self._encode_whole(adapted)
            groups.setdefault(id(layout), (layout, []))[1].append(i)
        if len(groups) == 1:
            return self._encode_layout(next(iter(groups.values()))[0], adapted)
        # several role sequences in one batch (prepare never makes these): encode each, restore the order
        out: list = [None] * len(adapted)
        for layout, members in groups.values():
            for i, r in zip(members, self._encode_layout(layout, [adapted[i] for i in members]).lists()):
                out[i] = r
        return _Flat.from_lists(out)

    def _encode_layout(self, layout: _Layout, adapted) -> _Flat:
        """Examples that share ``layout``: each variable piece is tokenized as one batch, then
        the pieces are joined, cut and truncated by C-level iteration (no Python loop per token)."""
        n = len(adapted)
        contents = [[m["content"] for m in msgs] + [target] for msgs, target in adapted]
        cols = [self._column(p, contents) for p in layout.pieces]
        lens = [len(c) if shared else np.fromiter(map(len, c), np.int64, n) for c, shared in cols]
        full = np.zeros(n, np.int64) + sum(lens)
        if layout.cut == len(layout.pieces):
            n_prompt = full.copy()
        else:
            head, head_shared = self._column(layout.cut_prompt, contents)
            piece, piece_shared = cols[layout.cut]
            heads = repeat(head, n) if head_shared else head
            if any(p[: len(h)] != h for p, h in zip(repeat(piece, n) if piece_shared else piece, heads)):
                raise DataError(
                    "chat template: the conversation's tokens do not start with the prompt's tokens "
                    "(the generation prompt merges with the answer when tokenized); refusing to guess the mask"
                )
            head_len = len(head) if head_shared else np.fromiter(map(len, head), np.int64, n)
            n_prompt = np.zeros(n, np.int64) + sum(lens[: layout.cut]) + head_len
        per_example = zip(*(repeat(c, n) if shared else c for c, shared in cols))
        flat = np.fromiter(chain.from_iterable(chain.from_iterable(per_example)), np.int32, count=int(full.sum()))
        return _Flat.truncate(flat, full, n_prompt, self.max_length)

    def _column(self, piece: list[int] | _Slot, contents: list[list[str]]) -> tuple[Any, bool]:
        """(ids, True) when the piece is the same for every example, else (ids per example, False)."""
        if not isinstance(piece, _Slot):
            return piece, True
        texts = [piece.fill(c) for c in contents]
        if all(t == texts[0] for t in texts):  # e.g. the system turn: tokenized once per batch, not per example
            return self._encode(texts[:1])[0], True
        return self._encode(texts), False

    def _encode_whole(self, adapted) -> _Flat:
        out: list[tuple[list[int], int] | None] = [None] * len(adapted)
        slots, prompts, fulls, suffixes = [], [], [], []
        for i, (msgs, target) in enumerate(adapted):
            tpl = self._template(tuple(m["role"] for m in msgs))
            if tpl is None:
                e = encode_example(msgs, target, self.tokenizer, self.max_length, fold="never")
                out[i] = None if e is None else (e["input_ids"], e["labels"].count(IGNORE_INDEX))
                self.fallbacks += 1
                continue
            _, _, suffix, pp, fp = tpl
            contents = [m["content"] for m in msgs]
            prompts.append(_join(pp, contents))
            fulls.append(_join(fp, [*contents, target]))
            suffixes.append(suffix)
            slots.append(i)
        enc = self._encode(prompts + fulls)
        suffix_ids = {s: self._encode_ref([s])[0] if s else [] for s in set(suffixes)}
        k = len(slots)
        for j, i in enumerate(slots):
            full_ids = enc[k + j]
            end = end_of_answer(full_ids, suffix_ids[suffixes[j]], self.specials)
            e = finish_example(enc[j], full_ids, end, self.max_length)
            out[i] = None if e is None else (e["input_ids"], len(enc[j]))
        return _Flat.from_lists(out)


def _split_on_sentinels(text: str, n: int) -> list[str] | None:
    """Split a rendered template at sentinels 0..n-1 (each exactly once, in order)."""
    parts = []
    rest = text
    for i in range(n):
        s = _SENTINEL.format(i)
        if rest.count(s) != 1 or text.count(s) != 1:
            return None
        before, rest = rest.split(s, 1)
        parts.append(before)
    if "\ue000" in rest:
        return None
    parts.append(rest)
    return parts


def _join(parts: list[str], contents: list[str]) -> str:
    out = [parts[0]]
    for c, p in zip(contents, parts[1:]):
        out.append(c)
        out.append(p)
    return "".join(out)
