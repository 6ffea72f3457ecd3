"""Structured output: an answer that must be JSON matching a schema, enforced while decoding.

``StructuredOutput`` is the one way a format reaches an engine: the ``structured`` field of a request's
generation settings (``chefbot.generate.completion.Settings``).  Each engine enforces it with a kept library:

* the hf engine (``LocalGenerator``): llguidance, as a transformers ``LogitsProcessor``
  (``GuidanceProcessor``): every token outside the grammar is masked before sampling;
* the llama.cpp engine: llama.cpp's own grammar sampler on a GBNF grammar that llama-cpp-python converts
  from the schema (``gbnf``), applied to llama.cpp's logits before chefbot samples (``LlamaGrammar``);
* an OpenAI-compatible endpoint: ``response_format`` is sent as it came (``openai_response_format``).

The two converters understand different parts of JSON Schema, and llama-cpp-python's ignores what it does not
know (``minimum`` would be dropped silently), so one list, ``SUPPORTED_KEYWORDS``, is what both enforce;
``check_schema`` refuses any other keyword with ``UnsupportedSchema`` naming it (the server: 400) before a
request is queued.  Whitespace is not free: both grammars allow at most a single space where JSON allows any,
so a model cannot run away in blanks.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chefbot.errors import ChefbotError

# Keywords both converters enforce exactly (llama-cpp-python 0.3.36's SchemaConverter; llguidance 1.9).
SUPPORTED_KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "enum",
        "const",
        "anyOf",
        "$ref",
        "$defs",
        "definitions",
        "minLength",
        "maxLength",
        "format",
    }
)
# Keywords that describe and never constrain: accepted and left alone.
ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly"}
)
# String formats both grammars have a rule for.
FORMATS = frozenset({"date", "time", "date-time"})
TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})
# llama-cpp-python writes a bound of N as N nested optional rules (and llama.cpp parses them recursively): bounds
# and nesting are capped so that no request can make a grammar that takes the server down.
MAX_BOUND = 1000  # minLength, maxLength, minItems, maxItems
MAX_DEPTH = 24  # subschemas inside subschemas
# Keywords whose value is a map of name -> schema (the names are data, not keywords).
_SCHEMA_MAPS = ("properties", "$defs", "definitions")
ANY_OBJECT = {"type": "object"}  # response_format json_object: any JSON object


class UnsupportedSchema(ChefbotError):
    """A JSON schema uses a keyword (or a value of one) that the grammar converters do not enforce.
    ``keyword``: the keyword; ``where``: a JSON pointer to the schema that holds it."""

    def __init__(self, keyword: str, where: str, why: str = "") -> None:
        super().__init__(
            f"JSON schema keyword {keyword!r} at {where or '/'} is not supported for structured output"
            + (f" ({why})" if why else "")
            + f"; supported: {', '.join(sorted(SUPPORTED_KEYWORDS))}"
        )
        self.keyword, self.where = keyword, where


class StructuredOutput(BaseModel):
    """The answer must be a JSON value matching ``json_schema`` (OpenAI's ``response_format``: ``json_object``
    is any object, ``json_schema`` a given schema)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["json_object", "json_schema"] = Field(description="OpenAI's response_format type")
    json_schema: dict = Field(default_factory=lambda: dict(ANY_OBJECT), description="the schema the answer matches")
    name: str = Field("response", description="the schema's name (json_schema.name)")
    strict: bool | None = Field(None, description="json_schema.strict as the client sent it")

    def property_order(self) -> list[str]:
        """Every property name in the order the schema lists them (OpenAI answers in that order)."""
        names = [
            n for _w, key, v in _walk(self.json_schema, "") if key == "properties" and isinstance(v, dict) for n in v
        ]
        return list(dict.fromkeys(names))

    def openai_response_format(self) -> dict:
        """As an OpenAI request's ``response_format``."""
        if self.kind == "json_object":
            return {"type": "json_object"}
        spec: dict[str, Any] = {"name": self.name, "schema": self.json_schema}
        if self.strict is not None:
            spec["strict"] = self.strict
        return {"type": "json_schema", "json_schema": spec}


def _walk(schema: Any, where: str, depth: int = 0) -> Iterator[tuple[str, str, Any]]:
    """(pointer, keyword, value) of every keyword in ``schema`` and its subschemas."""
    if isinstance(schema, bool):
        return
    if depth > MAX_DEPTH:
        raise UnsupportedSchema("(depth)", where, f"subschemas nested more than {MAX_DEPTH} deep")
    if not isinstance(schema, dict):
        raise UnsupportedSchema("(schema)", where, f"a schema is an object, not {type(schema).__name__}")
    for key, value in schema.items():
        yield where, key, value
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                yield from _walk(sub, f"{where}/{key}/{name}", depth + 1)
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            yield from _walk(value, f"{where}/{key}", depth + 1)
        elif key in ("anyOf", "prefixItems") and isinstance(value, list):
            for i, sub in enumerate(value):
                yield from _walk(sub, f"{where}/{key}/{i}", depth + 1)


def check_schema(schema: Any) -> None:
    """Raise ``UnsupportedSchema`` naming the first keyword (or keyword value) that is not enforced exactly."""
    for where, key, value in _walk(schema, ""):
        if key in ANNOTATIONS:
            continue
        if key not in SUPPORTED_KEYWORDS:
            raise UnsupportedSchema(key, where)
        if key == "format" and value not in FORMATS:
            raise UnsupportedSchema(key, where, f"format {value!r}; supported formats: {', '.join(sorted(FORMATS))}")
        if key == "type":
            types = value if isinstance(value, list) else [value]
            bad = [t for t in types if t not in TYPES]
            if bad:
                raise UnsupportedSchema(key, where, f"unknown type {bad[0]!r}")
        if key in ("minLength", "maxLength", "minItems", "maxItems") and not (
            isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_BOUND
        ):
            raise UnsupportedSchema(key, where, f"{value!r}: a whole number from 0 to {MAX_BOUND}")
        if key == "$ref" and not (isinstance(value, str) and value.startswith("#/")):
            raise UnsupportedSchema(key, where, "only local references (#/...) are resolved")


# ---------------------------------------------------------------------------------------------
# llama.cpp: a GBNF grammar, llama.cpp's grammar sampler
# ---------------------------------------------------------------------------------------------


def gbnf(fmt: StructuredOutput) -> str:
    """The GBNF grammar llama-cpp-python converts from the schema (its port of llama.cpp's converter)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        # the schema's own property order (the converter's default is alphabetical)
        return json_schema_to_gbnf(json.dumps(fmt.json_schema), fmt.property_order())
    except (ValueError, KeyError, RecursionError) as e:
        raise UnsupportedSchema("(schema)", "", f"the grammar converter refused it: {e}") from None


class LlamaGrammar:
    """llama.cpp's grammar sampler for one sequence: ``mask(logits)`` sets every token the grammar forbids now
    to -inf (in place, a numpy float32 row over the vocabulary); ``accept(token)`` advances it."""

    def __init__(self, lib: Any, vocab: Any, grammar: str, n_vocab: int) -> None:
        import numpy as np

        self.lib, self.n_vocab = lib, n_vocab
        self.sampler = lib.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        if not self.sampler:
            raise UnsupportedSchema("(schema)", "", "llama.cpp could not parse the grammar converted from it")
        # llama_token_data {int32 id; float logit; float p}: one array for the whole vocabulary, reused per token
        self._data = np.zeros(n_vocab, dtype=np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)]))
        self._data["id"] = np.arange(n_vocab, dtype=np.int32)
        self._array = lib.llama_token_data_array(
            data=self._data.ctypes.data_as(lib.llama_token_data_p), size=n_vocab, selected=-1, sorted=False
        )

    def mask(self, logits: Any) -> Any:
        import ctypes

        self._data["logit"] = logits[: self.n_vocab]
        self._array.size, self._array.selected, self._array.sorted = self.n_vocab, -1, False
        self.lib.llama_sampler_apply(self.sampler, ctypes.byref(self._array))
        logits[: self.n_vocab] = self._data["logit"]
        return logits

    def accept(self, token: int) -> None:
        self.lib.llama_sampler_accept(self.sampler, token)

    def close(self) -> None:
        if self.sampler:
            self.lib.llama_sampler_free(self.sampler)
            self.sampler = None


# ---------------------------------------------------------------------------------------------
# transformers: llguidance as a LogitsProcessor
# ---------------------------------------------------------------------------------------------

_LL_TOKENIZERS: dict[int, Any] = {}
_LL_LOCK = threading.Lock()
# Compact JSON: no free whitespace (a model could emit blanks for ever), "," and ":" as separators.
_LL_JSON_OPTIONS = {"whitespace_flexible": False}


def ll_tokenizer(tokenizer: Any, stop_ids: list[int]) -> Any:
    """llguidance's view of a transformers tokenizer (about a second to build: kept per tokenizer)."""
    import llguidance.hf

    key = id(tokenizer)
    with _LL_LOCK:
        if key not in _LL_TOKENIZERS:
            _LL_TOKENIZERS[key] = (tokenizer, llguidance.hf.from_tokenizer(tokenizer, eos_token=stop_ids[0]))
        return _LL_TOKENIZERS[key][1]


def ll_grammar(fmt: StructuredOutput) -> str:
    import llguidance

    return llguidance.LLMatcher.grammar_from_json_schema(fmt.json_schema, defaults=_LL_JSON_OPTIONS)


class GuidanceProcessor:
    """A transformers ``LogitsProcessor`` (duck-typed: ``__call__(input_ids, scores)``) holding one llguidance
    matcher per row of a left-padded batch: each call feeds every row's newest token to its matcher, then
    masks the tokens its grammar forbids next.  A row whose matcher has stopped (the JSON is complete) may only
    end: its stop ids stay open.  ``width``: the prompt columns (the batch's input width)."""

    def __init__(self, fmt: StructuredOutput, tokenizer: Any, stop_ids: list[int], rows: int, width: int) -> None:
        import llguidance
        import torch

        self.width, self.stop_ids = width, list(stop_ids)
        lt = ll_tokenizer(tokenizer, self.stop_ids)
        grammar = ll_grammar(fmt)
        self.matchers = [llguidance.LLMatcher(lt, grammar, log_level=0) for _ in range(rows)]
        if self.matchers[0].is_error():
            raise UnsupportedSchema("(schema)", "", f"llguidance refused it: {self.matchers[0].get_error()}")
        self.words = (lt.vocab_size + 31) // 32
        self.bitmask = torch.full((rows, self.words), -1, dtype=torch.int32)
        self._bits = torch.arange(32, dtype=torch.int32)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch
        from llguidance.torch import fill_next_token_bitmask

        fresh = input_ids.shape[1] > self.width
        allowed = torch.zeros_like(scores, dtype=torch.bool)
        for r, m in enumerate(self.matchers):
            if fresh and not m.is_stopped() and not m.is_error():
                m.consume_token(int(input_ids[r, -1]))
            if m.is_error() or m.is_stopped():  # done (or finished with a stop id already): only a stop id
                allowed[r, self.stop_ids] = True
                continue
            fill_next_token_bitmask(m, self.bitmask, r)
            # The bits unpacked here: llguidance's own apply_token_bitmask_inplace is torch.compile'd, which on a
            # CPU builds C++ on its first call.
            bits = (self.bitmask[r].unsqueeze(1) >> self._bits) & 1  # [words, 32]: bit j of word w = token 32w+j
            row = bits.reshape(-1)[: scores.shape[1]].bool()
            allowed[r, : row.shape[0]] = row
        return scores.masked_fill(~allowed, float("-inf"))
