"""The recipe's ``quality:`` section: which checks run on every generated record, and their
thresholds. The order they run in, cheapest first, is :data:`synthloom.quality.steps.STEPS`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ValidatorSettings(_Strict):
    min_chars: int | None = Field(default=None, ge=0)  # over the record's text fields
    max_chars: int | None = Field(default=None, ge=1)
    must_match: list[str] = Field(default_factory=list)  # regexes the text must contain
    must_not_match: list[str] = Field(default_factory=list)
    refusals: bool = True  # drop "As an AI language model ..." and "I cannot help" replies
    language: str | None = None  # ISO 639-1 code (en, fr, ...) every record must be in
    language_detector: str = "fasttext"  # or lingua: see synthloom.quality.language
    min_language_confidence: float = Field(default=0.5, ge=0, le=1)


class JudgeSettings(_Strict):
    criteria: dict[str, str] = Field(min_length=1)  # name -> what a 5 means
    min_score: float | None = Field(default=3.5, ge=1, le=5)  # on the mean of the criteria
    min_per_criterion: dict[str, float] = Field(default_factory=dict)
    model: str | None = None  # another model on the same server (openai backend)
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=400, ge=16)
    calibration: str | None = None  # JSONL/CSV of {the record's fields..., verdict: accept|reject}
    min_kappa: float | None = Field(default=None, ge=-1, le=1)  # stop the run below it

    @model_validator(mode="after")
    def _known_criteria(self) -> JudgeSettings:
        unknown = sorted(set(self.min_per_criterion) - set(self.criteria))
        if unknown:
            raise ValueError(f"min_per_criterion names unknown criteria: {unknown}")
        return self


class GroundingSettings(_Strict):
    against: str = "seeds"  # "seeds", or a JSONL/CSV/Parquet file of reference documents
    k: int = Field(default=3, ge=1, le=20)  # nearest references shown to the judge
    min_support: float = Field(default=0.5, ge=0, le=1)  # share of claims supported
    max_tokens: int = Field(default=600, ge=16)


class DedupSettings(_Strict):
    exact: bool = True  # normalised text hash
    near: float | None = Field(default=0.85, gt=0, le=1)  # MinHash Jaccard threshold
    shingle: int = Field(default=5, ge=1, le=20)  # word n-grams for MinHash
    num_perm: int = Field(default=128, ge=16, le=1024)
    semantic: float | None = Field(default=None, gt=0, le=1)  # embedding cosine (extra: embed)
    against_seeds: bool = True  # also match the seeds: a record that does is a seed_copy


class DecontamSettings(_Strict):
    files: list[str] = Field(min_length=1)  # eval sets (JSONL/CSV/Parquet)
    fields: list[str] | None = None  # their text fields; default: every text field
    ngram: int | None = Field(default=13, ge=3)  # shared word n-gram => contaminated
    substring: int | None = Field(default=50, ge=10)  # shared normalised characters
    semantic: float | None = Field(default=None, gt=0, le=1)  # nearest eval item's cosine


class PrivacySettings(_Strict):
    pii: Literal["drop", "redact", "report"] | None = "redact"
    pii_types: list[str] | None = None  # default: every detector (see quality/pii.py)
    presidio: bool = False  # add Presidio's recognisers (extra: pii), offline
    presidio_min_score: float = Field(default=0.5, ge=0, le=1)
    max_seed_similarity: float | None = Field(default=0.8, gt=0, le=1)  # shingle Jaccard
    max_seed_substring: int | None = Field(default=120, ge=10)  # longest common characters
    max_seed_cosine: float | None = Field(default=None, gt=0, le=1)  # embedding cosine


class FieldShape(_Strict):
    """What one text field must look like. A record without the field is not judged by it
    (a recipe's tasks may have different fields); an empty one is."""

    question: bool = False  # reads as a question: a '?', or opens with a question word
    min_words: int | None = Field(default=None, ge=1)
    max_words: int | None = Field(default=None, ge=1)
    must_match: list[str] = Field(default_factory=list)  # regexes, on this field alone
    must_not_match: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _bounds(self) -> FieldShape:
        if self.min_words and self.max_words and self.min_words > self.max_words:
            raise ValueError(f"min_words {self.min_words} > max_words {self.max_words}")
        return self


class RelevanceSettings(_Strict):
    """Whether the response is about the prompt, and the record about its own seed, by the
    cosine of their embeddings (extra: embed). Each threshold, unless given, is calibrated on
    the seeds: ``percentile`` of the seeds' own cosines, times ``margin``."""

    prompt: str  # the record's prompt field (question)
    response: str  # the field that must answer it (answer)
    percentile: float = Field(default=5, ge=0, le=50)
    margin: float = Field(default=0.8, gt=0, le=1)
    min_answer_cosine: float | None = Field(default=None, ge=-1, le=1)  # overrides calibration
    seed: bool = True  # also off_topic: the record against its primary seed
    min_seed_cosine: float | None = Field(default=None, ge=-1, le=1)  # overrides calibration


class HeuristicSettings(_Strict):
    """Model-free checks for the junk a small model writes (see quality/heuristics.py);
    ``heuristics: {}`` turns on every rule but the per-field shapes and relevance."""

    repetition: bool = True  # repeated lines, sentences, n-grams, a looping phrase
    debris: bool = True  # unbalanced brackets and quotes, JSON/markup fragments, cut-off ends
    echo: bool = True  # template words, field names and label names written as the text
    placeholder: bool = True  # lorem ipsum, [insert ...], TODO, <placeholder>
    # fields that hold a name or an id, not text (the built-in tasks' label, category and source
    # fields): never read as text, and a text that is one of their values is an echo
    label_fields: list[str] = Field(
        default_factory=lambda: ["label", "near_label", "category", "source_id"]
    )
    ngram_min_words: int = Field(default=30, ge=5)  # shorter texts skip the n-gram shares
    fields: dict[str, FieldShape] = Field(default_factory=dict)
    relevance: RelevanceSettings | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_label_field(cls, data: Any) -> Any:
        """``label_field: intent``, as the label task spells it, names the one label field."""
        if isinstance(data, dict) and isinstance(data.get("label_field"), str):
            rest = {k: v for k, v in data.items() if k != "label_field"}
            return {**rest, "label_fields": [*rest.get("label_fields", []), data["label_field"]]}
        return data


class QualitySettings(_Strict):
    fields: list[str] | None = None  # the text the checks read; default: every text field
    validators: ValidatorSettings | None = None
    heuristics: HeuristicSettings | None = None
    dedup: DedupSettings | None = None
    decontaminate: DecontamSettings | None = None
    privacy: PrivacySettings | None = None
    judge: JudgeSettings | None = None
    grounding: GroundingSettings | None = None

    @property
    def semantic(self) -> bool:
        """Whether a check needs the embedding model (and its optional package)."""
        return bool(
            (self.dedup is not None and self.dedup.semantic is not None)
            or (self.decontaminate is not None and self.decontaminate.semantic is not None)
            or (self.privacy is not None and self.privacy.max_seed_cosine is not None)
            or (self.heuristics is not None and self.heuristics.relevance is not None)
        )

    @property
    def enabled(self) -> bool:
        """Whether any check section is given (``fields`` alone checks nothing)."""
        return any(isinstance(getattr(self, name), BaseModel) for name in type(self).model_fields)
