"""The hf export's dataset card: front matter the Hub parses, and a body that states the
run's figures and stays a well-formed Markdown document whatever the recipe's text holds."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from huggingface_hub import DatasetCard

from synthloom.errors import SynthloomError
from synthloom.export.card import CardInfo, dataset_card, size_category, task_categories
from synthloom.export.composition import Composition

FLAGSHIP = Path(__file__).parents[2] / "examples" / "post-surgical-care" / "recipe.yaml"


def _recipe(**changes: Any) -> dict[str, Any]:
    recipe = yaml.safe_load(FLAGSHIP.read_text(encoding="utf-8"))
    recipe["license"] = "cc-by-4.0"
    recipe["description"] = "Patient questions after surgery, answered as a clinician would."
    recipe["mix"] = {"real": None, "real_fraction": 0.2, "upsample": True, "max_real_repeats": 5}
    recipe["splits"] = {"validation": 0.15}
    recipe.update(changes)
    return dict(recipe)


def _composition(**changes: Any) -> Composition:
    comp = Composition(
        real_source="seeds",
        real_fraction=0.2,
        real_available=48,
        real_left_out={"no answer field": 2},
        real_distinct=48,
        synthetic_available=812,
        synthetic_duplicates=4,
        synthetic_capped=0,
        splits={
            "train": {"real": 170, "synthetic": 680},
            "validation": {"real": 30, "synthetic": 120},
        },
        notes=["each real row was repeated up to 5 times to reach the real share"],
    )
    return dataclasses.replace(comp, **changes)


SUMMARY = {
    "planned": 1000,
    "accepted": 800,
    "rejected": {"near_duplicate": 120, "min_chars": 45},
    "failed": {"invalid_json": 30},
    "funnel": [["generated", 970], ["validators", 45], ["dedup", 120], ["privacy", 5]],
}
REVIEW = {
    "sample": 60,
    "population": 800,
    "reviewed": 50,
    "accepted": 45,
    "rate": 0.9,
    "low": 0.7864,
    "high": 0.9565,
    "reasons": {"unsafe advice": 3, "off topic": 2},
    "edited": 1,
}
METRICS = {
    "records": 800,
    "reference": {"source": "seeds", "records": 50},
    "lexical": {"distinct_2": 0.4123, "self_bleu": 0.612},
    "embedding": {"vendi": 14.25},
    "collapse": {"coverage": 0.7, "tail_retention": 0.55},
    "realism": {"precision": 0.81, "recall": 0.42, "mauve": {"value": 0.88}, "c2st_auc": 0.67},
    "warnings": [
        {
            "metric": "lexical.self_bleu",
            "value": 0.612,
            "threshold": 0.5,
            "message": "records repeat each other's wording (self-BLEU 0.61 > 0.50)",
        }
    ],
}


def _info(**changes: Any) -> CardInfo:
    info = CardInfo(
        recipe=_recipe(),
        composition=_composition(),
        split_files={"train": "data/train.parquet", "validation": "data/validation.parquet"},
        row_format="openai-chat",
        task_kinds={"qa": "expand"},
        template_hashes={"qa": ["0123456789abcdef"]},
        models=["embedded:SmolLM2-135M-Instruct.Q4_1.gguf"],
        summary=SUMMARY,
        review=REVIEW,
        metrics=METRICS,
        language=["en"],
        synthloom_version="0.1.0",
    )
    return dataclasses.replace(info, **changes)


def _section(card: str, title: str) -> str:
    body = card.split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def _columns(line: str) -> int:
    """Cells in a Markdown table row: the pipes no backslash escapes, less the outer two."""
    return len(re.findall(r"(?<!\\)(?:\\\\)*\|", line)) - 1


def _tables(card: str) -> list[list[str]]:
    blocks = card.split("\n\n")
    return [b.splitlines() for b in blocks if b.startswith("| ")]


def test_front_matter_parses_as_a_hub_card() -> None:
    card = DatasetCard(dataset_card(_info()))
    data = card.data.to_dict()
    assert data["license"] == "cc-by-4.0"
    assert data["language"] == ["en"]
    assert data["task_categories"] == ["text-generation"]
    assert data["size_categories"] == ["1K<n<10K"]
    assert data["tags"] == ["synthetic", "synthloom"]
    assert data["pretty_name"] == "post-surgical-care"
    assert data["configs"] == [
        {
            "config_name": "default",
            "data_files": [
                {"split": "train", "path": "data/train.parquet"},
                {"split": "validation", "path": "data/validation.parquet"},
            ],
        }
    ]
    assert card.text.lstrip().startswith("# post-surgical-care")


def test_configs_keep_the_split_files_order_and_language_is_left_out_when_unknown() -> None:
    files = {"validation": "data/validation.parquet", "train": "data/train.parquet"}
    data = DatasetCard(dataset_card(_info(split_files=files, language=None))).data.to_dict()
    assert [f["split"] for f in data["configs"][0]["data_files"]] == ["validation", "train"]
    assert "language" not in data


def test_task_categories_follow_the_task_kinds() -> None:
    kinds = {"qa": "expand", "tag": "label", "fr": "translate", "pairs": "preference"}
    data = DatasetCard(dataset_card(_info(task_kinds=kinds))).data.to_dict()
    assert data["task_categories"] == ["text-classification", "text-generation", "translation"]
    assert task_categories([]) == []
    assert task_categories(["magpie", "distill", "magpie"]) == ["text-generation"]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (0, "n<1K"),
        (999, "n<1K"),
        (1000, "1K<n<10K"),
        (9_999, "1K<n<10K"),
        (10_000, "10K<n<100K"),
        (99_999, "10K<n<100K"),
        (100_000, "100K<n<1M"),
        (1_000_000, "1M<n<10M"),
        (10**8 - 1, "10M<n<100M"),
        (10**9, "1B<n<10B"),
        (10**12 - 1, "100B<n<1T"),
        (10**12, "n>1T"),
    ],
)
def test_size_category_boundaries(rows: int, expected: str) -> None:
    assert size_category(rows) == expected


def test_missing_license_names_the_recipe_key() -> None:
    for value in (None, ""):
        with pytest.raises(SynthloomError, match=r"license:"):
            dataset_card(_info(recipe=_recipe(license=value)))


def test_intro_has_the_description_or_a_default_from_the_seeds() -> None:
    card = dataset_card(_info())
    assert "Patient questions after surgery, answered as a clinician would." in card
    assert "generated by embedded:SmolLM2-135M-Instruct.Q4_1.gguf" in card
    seeds = [{"question": f"q{i}", "answer": f"a{i}"} for i in range(12)]
    card = dataset_card(_info(recipe=_recipe(description=None, seeds=seeds)))
    assert "Synthetic expand data made by synthloom from 12 seed examples." in card
    card = dataset_card(_info(recipe=_recipe(description=None)))
    assert "Synthetic expand data made by synthloom from seed examples." in card


def test_splits_section_states_the_mix() -> None:
    mix = _section(dataset_card(_info()), "Splits and the real/synthetic mix")
    assert "| train | 850 | 170 | 680 |" in mix
    assert "| validation | 150 | 30 | 120 |" in mix
    assert "| total | 1000 | 200 | 800 |" in mix
    assert "Real rows make up 20.0% of the set (20.0% was asked for)" in mix
    assert "They come from seeds: 200 rows from 48 distinct real examples" in mix
    assert "2 real rows were left out: no answer field (2)." in mix
    assert "4 synthetic rows were dropped because a real row has the same prompt." in mix
    assert "- each real row was repeated up to 5 times to reach the real share" in mix
    assert "always on the same side of a split" in mix
    assert "`origin`" in mix
    assert "`record_id`" in mix
    assert "openai-chat" in mix


def test_a_synthetic_only_set_says_so() -> None:
    comp = _composition(
        real_source=None,
        real_fraction=0.0,
        real_available=0,
        real_left_out={},
        real_distinct=0,
        synthetic_duplicates=0,
        notes=[],
        splits={"train": {"synthetic": 700}, "validation": {"synthetic": 100}},
    )
    card = dataset_card(_info(composition=comp))
    mix = _section(card, "Splits and the real/synthetic mix")
    assert "the set is synthetic only" in mix
    assert "| total | 800 | 0 | 800 |" in mix
    assert "Real rows make up" not in mix
    assert "real share" not in _section(card, "Known limitations")


def test_a_missed_real_share_and_capping_are_limitations() -> None:
    comp = _composition(
        real_fraction=0.5,
        synthetic_capped=300,
        splits={"train": {"real": 60, "synthetic": 240}},
    )
    card = dataset_card(_info(composition=comp))
    assert "Real rows make up 20.0% of the set (50.0% was asked for)" in card
    assert "300 synthetic rows were left out to hold the real share." in card
    limits = _section(card, "Known limitations")
    assert "The real share reached (20.0%) is far from the share asked (50.0%)." in limits
    assert "300 synthetic rows were capped" in limits


def test_how_it_was_made_lists_model_tasks_axes_and_seed() -> None:
    made = _section(dataset_card(_info()), "How it was made")
    assert "temperature 0.8, top_p 0.95, at most 400 tokens a reply" in made
    assert "| qa | expand | prompts/qa.j2 | 0123456789abcdef |" in made
    assert "| persona | from personas.txt |" in made
    assert "| age_group | 18-34, 35-54, 55-69, 70+ |" in made
    assert "| mobility_aid | depends on age_group: none, cane, walker |" in made
    assert "| days_since_surgery | 1–42 |" in made
    assert "| reading_level | grade 6, grade 10, college |" in made
    assert "| question_style | short and direct, worried and detailed," in made
    assert "Random seed: 7." in made
    assert "synthloom 0.1.0" in made


def test_a_long_axis_is_cut_to_one_line() -> None:
    recipe = _recipe(axes={"topic": [f"topic {i}" for i in range(20)]})
    made = _section(dataset_card(_info(recipe=recipe)), "How it was made")
    assert "| topic | topic 0, topic 1," in made
    assert "topic 7 …and 12 more |" in made
    assert "topic 8" not in made


def test_quality_gate_shows_the_funnel_and_drop_reasons() -> None:
    gate = _section(dataset_card(_info()), "Quality gate")
    assert "The run planned 1000 records, kept 800." in gate
    assert "generated 970 → validators −45 → dedup −120 → privacy −5 → kept 800" in gate
    assert "| rejected | near_duplicate | 120 |" in gate
    assert "| rejected | min_chars | 45 |" in gate
    assert "| failed | invalid_json | 30 |" in gate
    assert "no run summary" in dataset_card(_info(summary=None))


def test_review_states_the_rate_with_its_interval() -> None:
    review = _section(dataset_card(_info()), "Human review")
    assert "Acceptance rate 90.0% (95% interval 78.6%–95.7%)" in review
    assert "45 of 50 reviewed records accepted" in review
    assert "random sample of 60 of the 800 records" in review
    assert "unsafe advice (3), off topic (2)" in review
    card = dataset_card(_info(review=None))
    assert "No human review was recorded." in _section(card, "Human review")
    assert "No human review was recorded" in _section(card, "Known limitations")
    assert "No human review" not in _section(dataset_card(_info()), "Known limitations")


def test_a_drawn_but_unreviewed_sample_claims_no_rate() -> None:
    review = dict(REVIEW, reviewed=0, accepted=0, rate=None, reasons={})
    text = _section(dataset_card(_info(review=review)), "Human review")
    assert "No record of the sample has been reviewed yet." in text
    assert "Acceptance rate" not in text


def test_metrics_table_and_warnings() -> None:
    card = dataset_card(_info())
    metrics = _section(card, "Metrics")
    assert "against the reference seeds" in metrics
    for figure in ("0.412", "0.612", "14.25", "0.7", "0.55", "0.81", "0.42", "0.88", "0.67"):
        assert f"| {figure} |" in metrics
    assert "| MAUVE | 0.88 |" in metrics
    assert "- lexical.self_bleu = 0.612 (threshold 0.5): records repeat" in metrics
    assert "The report raised 1 warning (above)." in _section(card, "Known limitations")


def test_missing_figures_are_skipped_not_invented() -> None:
    metrics = {"reference": {"source": None}, "lexical": {"distinct_2": 0.5}, "warnings": []}
    card = dataset_card(_info(metrics=metrics))
    text = _section(card, "Metrics")
    table = next(t for t in _tables(text) if t[0].startswith("| metric"))
    assert len(table) == 3  # header, rule, distinct-2
    assert "MAUVE" not in text
    assert "The report raised no warnings." in text
    assert "warning" not in _section(card, "Known limitations")


def test_no_report_says_how_to_compute_one() -> None:
    text = _section(dataset_card(_info(metrics=None)), "Metrics")
    assert "No quality report was computed" in text
    assert "`synthloom report OUTDIR`" in text


def test_limitations() -> None:
    limits = _section(dataset_card(_info(language=None)), "Known limitations")
    assert "Synthetic data from embedded:SmolLM2-135M-Instruct.Q4_1.gguf may contain" in limits
    assert "small demo model" in limits
    assert "language of the data is not declared" in limits
    big = dataset_card(_info(models=["openai:Qwen2.5-7B-Instruct"]))
    assert "small demo model" not in big
    assert "language of the data" not in big


def test_pipes_and_newlines_in_user_text_keep_every_table_whole() -> None:
    recipe = _recipe(
        description="Questions | answers\nabout recovery.",
        axes={"style": ["short | direct", "long\nand | worried", "back\\slash|"]},
        tasks=[{"kind": "expand", "name": "qa", "template": "prompts/a|b.j2"}],
    )
    comp = _composition(
        real_left_out={"bad | row\nhere": 2},
        splits={"train": {"real": 5, "synthetic": 20}, "val|id": {"synthetic": 3}},
    )
    info = _info(
        recipe=recipe,
        composition=comp,
        summary=dict(SUMMARY, rejected={"odd | reason\nsplit": 3}),
    )
    card = dataset_card(info)
    tables = _tables(card)
    assert len(tables) >= 5
    for table in tables:
        width = _columns(table[0])
        assert all(_columns(line) == width for line in table), table
    assert "| style | short \\| direct, long and \\| worried, back\\\\slash\\| |" in card
    assert "| rejected | odd \\| reason split | 3 |" in card
    assert "| val\\|id | 3 | 0 | 3 |" in card
    assert DatasetCard(card).data.to_dict()["license"] == "cc-by-4.0"


def test_no_record_text_reaches_the_card() -> None:
    """The card is built from counts only: seed text inlined in the recipe stays out."""
    question = "my incision smells and I am scared"
    seeds = [{"question": question, "answer": "Call your surgeon today."}]
    card = dataset_card(_info(recipe=_recipe(seeds=seeds, description=None)))
    assert question not in card
    assert "from 1 seed example." in card
