"""The recipe's ``quality:`` section: which checks run on every generated record, and their
thresholds. The order they run in, cheapest first, is :data:`synthloom.quality.steps.STEPS`."""

from __future__ import annotations

from typing import Literal

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


class QualitySettings(_Strict):
    fields: list[str] | None = None  # the text the checks read; default: every text field
    validators: ValidatorSettings | None = None
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
        )

    @property
    def enabled(self) -> bool:
        """Whether any check section is given (``fields`` alone checks nothing)."""
        return any(isinstance(getattr(self, name), BaseModel) for name in type(self).model_fields)
