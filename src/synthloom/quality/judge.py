"""Model-based checks: a rubric judge (1-5 per criterion, a rationale for each, thresholds on
the mean or per criterion) and grounding (the record's claims checked against the nearest seeds
or reference documents; too few supported is ``ungrounded``, with the unsupported claims)."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from typing import Any

from synthloom.backends.base import GenerationRequest
from synthloom.calls import Calls
from synthloom.quality.base import Check, Drop, words
from synthloom.quality.settings import GroundingSettings, JudgeSettings
from synthloom.records import Record
from synthloom.schema import OutputSchema

JUDGE_SYSTEM = "You are a strict, fair reviewer of training data. You rate, you do not rewrite."
GROUNDING_SYSTEM = "You check facts against reference documents. You only trust the references."


def _seed(record: Record, salt: str) -> int:
    digest = hashlib.blake2b(f"{record.id}:{salt}".encode(), digest_size=4).digest()
    return int.from_bytes(digest) & 0x7FFFFFFF


def _request(
    system: str,
    user: str,
    schema: OutputSchema,
    *,
    seed: int,
    temperature: float,
    max_tokens: int,
    model: str | None,
) -> GenerationRequest:
    system += (
        "\nReply with only one JSON object with exactly these fields: "
        + ", ".join(schema.fields)
        + "."
    )
    return GenerationRequest(
        messages=({"role": "system", "content": system}, {"role": "user", "content": user}),
        json_schema=schema.json_schema,
        temperature=temperature,
        max_tokens=max_tokens,
        seed=seed,
        model=model,
    )


class RubricJudge(Check):
    name = "judge"
    reasons = ("low_score",)

    def __init__(self, settings: JudgeSettings) -> None:
        self.settings = settings
        rated = {
            "type": "object",
            "properties": {
                "rationale": {"type": "string", "minLength": 1, "maxLength": 300},
                # an enum, not minimum/maximum: grammar decoders enforce enums, not integer bounds
                "score": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
            },
            "required": ["rationale", "score"],
            "additionalProperties": False,
        }
        self.schema = OutputSchema(
            {
                "type": "object",
                "properties": {name: rated for name in settings.criteria},
                "required": list(settings.criteria),
                "additionalProperties": False,
            }
        )
        listing = "\n".join(f"- {name}: {what}" for name, what in settings.criteria.items())
        self._rubric = (
            "Rate the training example below on each criterion, from 1 (unusable) to 5 "
            f"(excellent). For each, first give a one-sentence rationale, then the score.\n"
            f"Criteria:\n{listing}\n\nExample:\n"
        )

    def request(self, record: Record, text: str) -> GenerationRequest:
        s = self.settings
        return _request(
            JUDGE_SYSTEM,
            self._rubric + text,
            self.schema,
            seed=_seed(record, "judge"),
            temperature=s.temperature,
            max_tokens=s.max_tokens,
            model=s.model,
        )

    def verdict(self, record: Record, ratings: dict[str, Any]) -> Drop | None:
        s = self.settings
        scores = {name: int(ratings[name]["score"]) for name in s.criteria}
        mean = sum(scores.values()) / len(scores)
        for name, score in scores.items():
            record.scores[f"judge_{name}"] = score
        # kept records carry the rationales too: the reviewer sees why the judge let them in
        record.notes["judge"] = {name: ratings[name]["rationale"] for name in s.criteria}
        record.scores["judge_mean"] = round(mean, 4)
        for name, low in s.min_per_criterion.items():
            if scores[name] < low:
                why = ratings[name]["rationale"]
                return Drop("low_score", f"{name} scored {scores[name]} < {low}: {why}", mean)
        if s.min_score is not None and mean < s.min_score:
            worst = min(scores, key=lambda n: scores[n])
            detail = (
                f"mean score {mean:.2f} < {s.min_score}; lowest {worst} "
                f"{scores[worst]}: {ratings[worst]['rationale']}"
            )
            return Drop("low_score", detail, mean)
        return None

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        ratings = await calls.json(self.request(record, text), self.schema)
        return self.verdict(record, ratings)


class _Retriever:
    """TF-IDF cosine over words: enough to find the few references a record is about, with no
    model to load."""

    def __init__(self, docs: list[tuple[str, str]]) -> None:
        self.docs = docs
        bags = [Counter(words(text)) for _, text in docs]
        df: Counter[str] = Counter()
        for bag in bags:
            df.update(bag.keys())
        n = len(docs)
        self.idf = {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}
        self.vectors = [self._vector(bag) for bag in bags]

    def _vector(self, bag: Counter[str]) -> dict[str, float]:
        vec = {w: c * self.idf.get(w, 0.0) for w, c in bag.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {w: v / norm for w, v in vec.items()}

    def nearest(self, text: str, k: int) -> list[tuple[str, str]]:
        query = self._vector(Counter(words(text)))
        scored = [
            (sum(query.get(w, 0.0) * v for w, v in vec.items()), i)
            for i, vec in enumerate(self.vectors)
        ]
        scored.sort(key=lambda p: (-p[0], p[1]))
        return [self.docs[i] for _, i in scored[:k]]


class Grounding(Check):
    name = "grounding"
    reasons = ("ungrounded",)

    def __init__(self, settings: GroundingSettings, references: list[tuple[str, str]]) -> None:
        self.settings = settings
        self.retriever = _Retriever(references)
        claim = {
            "type": "object",
            "properties": {
                "claim": {"type": "string", "minLength": 1, "maxLength": 200},
                "supported": {"type": "boolean"},
            },
            "required": ["claim", "supported"],
            "additionalProperties": False,
        }
        self.schema = OutputSchema(
            {
                "type": "object",
                "properties": {"claims": {"type": "array", "items": claim, "maxItems": 8}},
                "required": ["claims"],
                "additionalProperties": False,
            }
        )

    def request(self, record: Record, text: str) -> GenerationRequest:
        refs = self.retriever.nearest(text, self.settings.k)
        shown = "\n\n".join(f"[{rid}]\n{ref}" for rid, ref in refs)
        prompt = (
            f"References:\n{shown}\n\nText to check:\n{text}\n\nList each factual claim the "
            "text makes (at most 8, one short sentence each) and whether the references support it."
        )
        return _request(
            GROUNDING_SYSTEM,
            prompt,
            self.schema,
            seed=_seed(record, "grounding"),
            temperature=0.0,
            max_tokens=self.settings.max_tokens,
            model=None,
        )

    def verdict(self, record: Record, reply: dict[str, Any]) -> Drop | None:
        claims = reply["claims"]
        unsupported = [c["claim"] for c in claims if not c["supported"]]
        support = 1.0 if not claims else (len(claims) - len(unsupported)) / len(claims)
        record.scores["grounding_support"] = round(support, 4)
        record.notes["claims"] = [
            {"claim": c["claim"], "supported": bool(c["supported"])} for c in claims
        ]
        if support < self.settings.min_support:
            listed = "; ".join(unsupported[:5])
            return Drop(
                "ungrounded",
                f"{len(unsupported)} of {len(claims)} claims unsupported "
                f"(support {support:.2f} < {self.settings.min_support}): {listed}",
                support,
            )
        return None

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        return self.verdict(record, await calls.json(self.request(record, text), self.schema))
