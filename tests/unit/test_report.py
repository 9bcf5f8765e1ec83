"""The report end to end: metrics.json's sections and key names from a real (fake-backend)
run, warnings and their thresholds, a self-contained page that escapes record text, the
collapsed-vs-varied behaviour through the whole pipeline, and the CLI (report, --strict,
fitness, the end of run)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from synthloom import FakeBackend, run
from synthloom.errors import RecipeError
from synthloom.recipe import load_recipe
from synthloom.records import Provenance, Record
from synthloom.report import html
from synthloom.report.build import write_report
from synthloom.report.metrics import compute
from synthloom.report.source import Reference, RunData
from tests.helpers import cli, write_recipe

LABEL = Path(__file__).parents[2] / "examples" / "label"


def _encode(texts: list[str]) -> np.ndarray:
    """A deterministic stand-in for MiniLM: hashed bag of words, unit rows. Texts sharing
    words point the same way, as sentence embeddings of paraphrases do."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()):
            out[i, int(hashlib.sha256(word.encode()).hexdigest(), 16) % 64] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1.0, norms)


def _label_run(tmp_path: Path, n: int = 40, **report: Any) -> Path:
    folder = tmp_path / "recipe"
    folder.mkdir()
    recipe = yaml.safe_load((LABEL / "recipe.yaml").read_text())
    recipe["model"] = {"backend": "fake"}
    if report:
        recipe["report"] = report
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    (folder / "seeds.jsonl").write_text((LABEL / "seeds.jsonl").read_text())
    out = tmp_path / "out"
    run(folder / "recipe.yaml", out, n=n, backend=FakeBackend())
    return out


def test_a_run_gets_every_section_of_metrics_json(tmp_path: Path) -> None:
    out = _label_run(tmp_path)
    written = write_report(out, embed=False)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(written.metrics))  # what was returned was written
    assert metrics["records"] == 40
    assert metrics["reference"] == {"source": "seeds", "records": 8}
    assert metrics["funnel"]["produced"] == 40
    assert metrics["funnel"]["kept_share"] == 1.0
    assert set(metrics["lengths"]) == {"text"}
    assert set(metrics["lengths"]["text"]["dataset"]) == {"p5", "p50", "p95"}
    for key in ("distinct_1", "distinct_2", "distinct_3", "compression_ratio", "self_bleu"):
        assert isinstance(metrics["lexical"][key], float), key
        assert isinstance(metrics["lexical"]["reference"][key], float), key
    assert set(metrics["axes"]) >= {"customer", "mood", "findings"}
    assert sum(metrics["labels"]["counts"].values()) == 40
    assert set(metrics["labels"]["counts"]) == {"billing", "bug", "feature_request", "account"}
    assert "embedding" not in metrics  # embed=False: the page says how to get those
    assert isinstance(metrics["warnings"], list)
    page = (out / "report.html").read_text()
    assert "pip install &#39;synthloom[embed]&#39;" in page


def test_the_page_is_self_contained_and_escapes_record_text() -> None:
    hostile = '<script>alert("x")</script><img src=http://evil.test/a.png>'
    records = [_record(f"r{i}", f"{hostile} number {i}") for i in range(6)]
    data = _run_data(records, [{"text": f"a real example {i}"} for i in range(6)])
    metrics = compute(data, encode=_encode)
    page = html.render(metrics, name="<b>x</b>", examples=data.texts()[:3])
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "http://evil.test" not in page.replace("&lt;img src=http://evil.test", "")
    assert "<b>x</b>" not in page
    assert _links(page) <= {"#"}  # real tags point nowhere outside the page
    assert "default-src 'none'" in page


def _links(page: str) -> set[str]:
    """What the page's real tags (not escaped text) would fetch: the first character of every
    src/href attribute ("#" for a reference inside the page)."""
    found: set[str] = set()

    class Links(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            for name, value in attrs:
                if name in {"src", "href", "xlink:href"} and value is not None:
                    found.add(value[:1] if value.startswith("#") else value)

    Links().feed(page)
    return found


def _record(rid: str, text: str, **axes: Any) -> Record:
    prov = Provenance("unit", "t", 0, [], dict(axes), "", "fake", "fake-1", {})
    return Record(rid, "t", {"text": text}, prov)


def _run_data(records: list[Record], reference: list[dict[str, Any]]) -> RunData:
    return RunData(
        Path("."),
        {"name": "unit", "axes": {}},
        records,
        records,
        ["text"],
        Reference("seeds", reference),
        None,
        None,
        None,
        reference,
    )


TOPICS = [f"topic{i} subject{i} matter{i}" for i in range(40)]
WEIGHTS = np.array([1 / (i + 1) for i in range(40)]) / sum(1 / (i + 1) for i in range(40))


def _varied(n: int, seed: int) -> list[str]:
    """Records over forty topics, common ones more often (weights 1/rank), as real data."""
    rng = np.random.default_rng(seed)
    out = []
    for topic in rng.choice(40, size=n, p=WEIGHTS):
        words = rng.choice([f"w{j}" for j in range(300)], 8)
        out.append(f"{TOPICS[topic]} " + " ".join(words))
    return out


def _collapsed(n: int) -> list[str]:
    """Paraphrases of three templates, on the three most common topics: a model that fell
    into a rut, losing the rare topics."""
    return [f"Dear team, I write about {TOPICS[i % 3]} again {i % 2}" for i in range(n)]


def test_a_collapsed_set_gets_the_warnings_a_varied_one_does_not() -> None:
    reference = [{"text": t} for t in _varied(400, seed=1)]
    found = {}
    for name, texts in (("varied", _varied(300, seed=2)), ("collapsed", _collapsed(300))):
        records = [_record(f"r{i}", t) for i, t in enumerate(texts)]
        found[name] = compute(_run_data(records, reference), encode=_encode)
    varied, collapsed = found["varied"], found["collapsed"]
    assert collapsed["embedding"]["vendi"] < varied["embedding"]["vendi"]
    assert collapsed["collapse"]["coverage"] < varied["collapse"]["coverage"]
    assert collapsed["collapse"]["tail_retention"] < varied["collapse"]["tail_retention"]
    assert collapsed["lexical"]["distinct_2"] < varied["lexical"]["distinct_2"]
    fired = {w["metric"] for w in collapsed["warnings"]}
    assert {"collapse.opening_share", "collapse.coverage"} <= fired
    assert not {"collapse.opening_share", "collapse.coverage"} & {
        w["metric"] for w in varied["warnings"]
    }


def test_thresholds_come_from_the_recipe_and_unknown_ones_are_named(tmp_path: Path) -> None:
    out = _label_run(tmp_path, thresholds={"records": 1000})
    written = write_report(out, embed=False)
    rule = next(w for w in written.warnings if w["metric"] == "records")
    assert rule["threshold"] == 1000
    assert rule["value"] == 40
    bad = tmp_path / "bad.yaml"
    recipe = yaml.safe_load((LABEL / "recipe.yaml").read_text())
    recipe["report"] = {"thresholds": {"collapse.coverag": 0.5}}
    bad.write_text(yaml.safe_dump(recipe))
    with pytest.raises(RecipeError, match=r"unknown threshold 'collapse\.coverag'"):
        load_recipe(bad)


def test_report_cli_strict_exits_non_zero_on_warnings(tmp_path: Path) -> None:
    out = _label_run(tmp_path, thresholds={"records": 1000})
    result = cli("report", str(out), "--strict", check=4)
    assert "only 40 records" in result.stdout
    assert (out / "report.html").is_file()
    cli("report", str(out), "--real", str(LABEL / "seeds.jsonl"), check=0)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["reference"]["source"] == str(LABEL / "seeds.jsonl")


def test_fitness_cli_writes_its_json_and_the_report_shows_it(tmp_path: Path) -> None:
    out = _label_run(tmp_path)
    test = tmp_path / "test.jsonl"
    rows = [json.loads(line) for line in (LABEL / "seeds.jsonl").read_text().splitlines()]
    test.write_text("\n".join(json.dumps(r) for r in rows * 3))
    cli("report", str(out), check=0)
    result = cli("fitness", str(out), "--real", str(test), check=0)
    found = json.loads((out / "fitness.json").read_text())
    assert f"verdict: {found['verdict']}" in result.stdout
    assert found["difference"]["verdict"] in {
        "synthetic data helps",
        "synthetic data hurts",
        "synthetic data makes no measurable difference",
    }
    assert set(found["sets"]) >= {"seeds", "synthetic", "seeds+synthetic"}
    assert "Fitness: train on synthetic, test on real" in (out / "report.html").read_text()


def test_labels_a_probe_cannot_tell_apart_are_named() -> None:
    """'refund' and 'billing' records share their words; 'bug' records have their own: the
    probe mixes up the first two and not the third."""
    rng = np.random.default_rng(3)
    money = [f"w{j}" for j in range(40)]
    crash = [f"c{j}" for j in range(40)]
    records = []
    for i in range(90):
        label = ("refund", "billing", "bug")[i % 3]
        words = rng.choice(crash if label == "bug" else money, 8)
        prov = Provenance("unit", "t", i, [], {}, "", "fake", "fake-1", {})
        records.append(Record(f"r{i}", "t", {"text": " ".join(words), "label": label}, prov))
    data = replace(_run_data(records, [{"text": "a seed"}]), label_field="label")
    labels = compute(data)["labels"]
    assert labels["counts"] == {"refund": 30, "billing": 30, "bug": 30}
    confusion = labels["confusion"]["labels"]
    assert confusion["bug"]["accuracy"] == 1.0
    assert confusion["bug"]["confused_with"] is None
    assert confusion["refund"]["confused_with"] == "billing"
    assert confusion["billing"]["confused_with"] == "refund"
    assert confusion["refund"]["confused_share"] > 0.2


def test_fitness_on_a_run_without_labels_says_what_it_does_not_cover(tmp_path: Path) -> None:
    folder = tmp_path / "recipe"
    folder.mkdir()
    run(write_recipe(folder), tmp_path / "out", n=4, backend=FakeBackend())
    result = cli("fitness", str(tmp_path / "out"), "--real", str(LABEL / "seeds.jsonl"), check=1)
    assert "no label task" in result.stderr
    assert "realism" in result.stderr
