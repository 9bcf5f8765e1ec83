"""Screenshots of ``synthloom review`` for the docs: docs/review-page.png, docs/review-summary.png.

A small post-surgical-care run is made with the fake backend (so no model is needed), then its
records are given realistic text, judge rationales and grounding claims, two reviewers'
verdicts are added, and headless Chromium photographs the record page and the results page.

    .venv/bin/python docs/screenshots.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from playwright.sync_api import sync_playwright

import synthloom
from synthloom.records import Record, Status
from synthloom.review.book import ReviewBook
from synthloom.review.server import start_in_thread
from synthloom.store.sqlite import RunStore

sys.path.insert(0, str(Path(__file__).parents[1]))  # the repository root, for tests.browser
from tests.browser import CHROMIUM, CHROMIUM_ARGS

HERE = Path(__file__).parent
EXAMPLE = HERE.parent / "examples" / "post-surgical-care"
CRITERIA = ("accuracy", "helpfulness", "realism")

# persona, age, seed, question, answer, judge scores, rationales, claims (text, supported)
DEMO: list[tuple[Any, ...]] = [
    (
        "retired teacher living alone",
        "70+",
        "psc-031",
        "I'm 74 and had my knee replaced eight days ago. I live by myself and I'm nervous about "
        "getting in and out of the shower. When can I shower, and do I have to keep the "
        "dressing dry?",
        "Most people can shower once the surgical team says the dressing is waterproof or the "
        "wound is dry, often a few days after surgery. Keep the dressing on and dry unless you "
        "were told otherwise, and do not soak in a bath, hot tub or pool until the incision has "
        "fully healed, usually about 3 to 4 weeks.\n\nBecause you live alone, use a shower "
        "chair and a hand-held shower head, put a non-slip mat down, and keep your phone within "
        "reach. Call your surgical team if the dressing gets soaked, or if you see redness, "
        "swelling, warmth or drainage around the incision.",
        (5, 5, 4),
        (
            "Matches standard guidance: keep the dressing dry, no soaking until healed.",
            "Answers both parts and adds safety steps that suit someone who lives alone.",
            "A believable question; the age and living situation come through naturally.",
        ),
        [
            ("Do not soak in a bath or pool until the incision has healed.", True),
            ("Keep the dressing dry unless told otherwise.", True),
            ("Use a shower chair and a non-slip mat.", False),
        ],
    ),
    (
        "adult child caring for a parent",
        "55-69",
        "psc-006",
        "My dad won't take his pain pills after his hip replacement because he's scared of "
        "getting hooked. How do I talk to him about it?",
        "It is common to worry about this. Taking pain medicine as prescribed for a short time "
        "after surgery rarely leads to addiction, and keeping pain under control helps him walk, "
        "sleep and do his exercises, which all speed recovery. Suggest he takes it before "
        "physical therapy, and ask the surgical team about a plan to step down to "
        "acetaminophen. Call them if his pain is not controlled or he feels very drowsy.",
        (5, 4, 5),
        (
            "Accurate and appropriately cautious about opioid use.",
            "Gives a concrete plan, though it could say more about side effects.",
            "Reads exactly like a worried family member.",
        ),
        [
            ("Short-term prescribed use rarely leads to addiction.", True),
            ("Pain control helps walking and physical therapy.", True),
        ],
    ),
    (
        "competitive amateur athlete",
        "18-34",
        "psc-042",
        "Had a laparoscopic hernia repair 2 weeks ago. When can I go back to heavy deadlifts?",
        "Wait at least 4 to 6 weeks before lifting anything heavy, and get your surgeon's okay "
        "before returning to heavy deadlifts or squats. Start with light weights and build up "
        "over several weeks, stopping if you feel pain or a bulge near the repair. Walking and "
        "light cardio are fine now.",
        (4, 5, 5),
        (
            "Sensible timeline, matches the seed's guidance for heavy lifting.",
            "Direct and specific to the lifter's goal.",
            "Terse, like a real athlete's message.",
        ),
        [("Wait 4 to 6 weeks before heavy lifting.", True)],
    ),
    (
        "new parent recovering while caring for a newborn",
        "18-34",
        "psc-004",
        "My C-section scar looks a bit red at the edges. Should I clean it with hydrogen peroxide "
        "a few times a day to keep it from getting infected?",
        "Yes, cleaning with hydrogen peroxide twice a day is the best way to prevent infection. "
        "You can also cover it with antibiotic ointment afterwards.",
        (1, 2, 4),
        (
            "Wrong: peroxide damages healing tissue; the seed says not to use it.",
            "Does not say when redness needs a call to the care team.",
            "The question itself is realistic.",
        ),
        [
            ("Hydrogen peroxide prevents infection in incisions.", False),
            ("Antibiotic ointment should be applied after cleaning.", False),
        ],
    ),
    (
        "older adult with diabetes and limited mobility",
        "70+",
        "psc-026",
        "I have diabetes and use a walker. It's been a week since my hip replacement and my leg "
        "looks more swollen today. Is that normal?",
        "Some swelling is normal for several weeks, and it often gets worse after you have been "
        "up and about. Lie down and raise your leg above the level of your heart several times "
        "a day. But call your surgical team today if the swelling is new or getting quickly "
        "worse, or if your calf is painful, warm or red: these can be signs of a blood clot. "
        "Call 911 for chest pain or trouble breathing.",
        (5, 5, 4),
        (
            "Correctly separates expected swelling from clot warning signs.",
            "Actionable and clear about when to call.",
            "Plausible; mentions the walker and diabetes.",
        ),
        [
            ("Swelling can last several weeks after hip replacement.", True),
            ("A painful, warm calf can be a sign of a blood clot.", True),
        ],
    ),
    (
        "patient with limited health literacy who prefers plain language",
        "35-54",
        "psc-019",
        "I had my hernia fixed 3 days ago and I have not pooped since. Is something wrong?",
        "This is common after surgery. Pain pills and moving less can slow your bowels. Drink "
        "plenty of water, eat fruit and vegetables, and walk a little a few times a day. You can "
        "use a gentle stool softener from the pharmacy. Call your surgery team if you have bad "
        "belly pain, you are throwing up, or your belly is swollen and hard.",
        (5, 5, 5),
        (
            "Accurate and safe.",
            "Plain, practical steps and clear warning signs.",
            "Very natural phrasing for this persona.",
        ),
        [("Pain medicine can cause constipation.", True)],
    ),
    (
        "small-business owner eager to get back to work",
        "35-54",
        "psc-045",
        "I run a bakery and had my gallbladder out laparoscopically on Monday. Can I be back on "
        "my feet at work by Friday?",
        "Many people go back to desk work within a week, but a bakery means standing, bending "
        "and lifting heavy trays. Plan on light duties only for the first two weeks, with no "
        "lifting over about 10 pounds, and take breaks to sit. Check with your surgeon before "
        "going back to full shifts.",
        (4, 4, 5),
        (
            "Reasonable, though lifting limits vary by surgeon.",
            "Tailored to the job's physical demands.",
            "Believable small-business owner question.",
        ),
        [("Most people return to desk work within a week.", True)],
    ),
    (
        "rural patient who lives far from the hospital",
        "55-69",
        "psc-029",
        "I live two hours from the hospital. My temperature is 100.2 F four days after my back "
        "surgery. Should I drive in?",
        "A temperature of 100.2 F is not usually a fever by itself, but call your surgical team "
        "now and tell them, as they know your surgery and can tell you whether to come in or go "
        "to a closer clinic. Recheck your temperature in an hour. Go to the nearest emergency "
        "room if it reaches 101 F, or if the incision is red and draining.",
        (4, 5, 4),
        (
            "Mostly accurate; thresholds vary slightly between hospitals.",
            "Practical for someone far from the hospital.",
            "Realistic worry for a rural patient.",
        ),
        [("A fever is usually 100.4 F or higher.", True)],
    ),
    (
        "anxious first-time surgical patient",
        "18-34",
        "psc-008",
        "why does my shoulder hurt so much after my appendix surgery?? is something really wrong",
        "Shoulder pain after laparoscopic surgery is common and usually harmless. The gas used "
        "to inflate your belly during surgery can irritate a nerve that refers pain to the "
        "shoulder. It usually fades within a few days. Walking and a heat pack can help.",
        (5, 4, 5),
        (
            "Accurate explanation of referred gas pain.",
            "Could add when to seek care.",
            "Anxious tone is convincing.",
        ),
        [("Gas used in laparoscopy can cause shoulder pain.", True)],
    ),
    (
        "spouse acting as the primary caregiver",
        "70+",
        "psc-012",
        "My wife had bypass surgery last week. The nurses told her not to push up from the chair "
        "with her arms. How is she supposed to stand up?",
        "Those are sternal precautions: they protect the breastbone while it heals. Have her "
        "scoot to the edge of the seat, put her feet under her knees, hug a pillow to her chest "
        "and rock forward, standing with her leg muscles. A higher, firm chair makes it much "
        "easier.",
        (5, 5, 5),
        (
            "Correct description of sternal precautions.",
            "Step-by-step technique the caregiver can use.",
            "Natural caregiver question.",
        ),
        [("Sternal precautions protect the healing breastbone.", True)],
    ),
    (
        "healthcare worker recovering from their own surgery",
        "35-54",
        "psc-022",
        "I'm a nurse on apixaban after my TKA. Can I take naproxen for the knee pain?",
        "Avoid naproxen and other NSAIDs while on apixaban unless your surgeon says otherwise: "
        "together they raise the risk of bleeding. Acetaminophen, ice and elevation are safer "
        "choices. Ask your surgeon or pharmacist before adding any pain medicine.",
        (5, 5, 5),
        (
            "Correct interaction warning.",
            "Gives safer alternatives.",
            "Uses clinical shorthand a nurse would use.",
        ),
        [("NSAIDs with anticoagulants raise bleeding risk.", True)],
    ),
    (
        "parent of a young child recovering from surgery",
        "35-54",
        "psc-009",
        "My daughter is 6 and had her tonsils out. Day 6 and she's in more pain again. Normal?",
        "Yes, pain often gets worse again around days 5 to 7 when the scabs come off. Keep her "
        "drinking, give pain medicine on schedule as directed, and offer cold foods. Call the "
        "surgeon right away if you see any bright red blood from her mouth or nose.",
        (5, 5, 5),
        (
            "Accurate: pain often peaks again as the scabs separate.",
            "Clear bleeding warning.",
            "Realistic parent question.",
        ),
        [("Pain can increase around days 5 to 7.", True)],
    ),
]


def make_run(folder: Path) -> Path:
    shutil.copy(EXAMPLE / "seeds.jsonl", folder / "seeds.jsonl")
    recipe = {
        "name": "post-surgical-care",
        "seeds": "seeds.jsonl",
        "target": len(DEMO),
        "random_seed": 7,
        "model": {"backend": "fake"},
        "axes": {"persona": sorted({row[0] for row in DEMO})},
        "tasks": [
            {
                "kind": "expand",
                "name": "qa",
                "template": "Write a question about {{ seed.topic }} from a {{ persona }}.",
                "schema": {"question": "string", "answer": "string"},
            }
        ],
        "quality": {
            "judge": {"criteria": {c: c for c in CRITERIA}, "min_score": 3.5},
            "grounding": {"against": "seeds", "min_support": 0.0},
        },
    }
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    outdir = folder / "out"
    synthloom.run(folder / "recipe.yaml", outdir, backend=synthloom.FakeBackend())
    with RunStore.in_dir(outdir) as store:
        for record, row in zip(list(store.planned_records()), DEMO, strict=True):
            _dress(store, record, row)
    return outdir


def _dress(store: RunStore, record: Record, row: tuple[Any, ...]) -> None:
    """Give a fake record hand-written text, scores and notes, as a run with a capable judge
    would have. The provenance still says the fake backend made it: these are demo records."""
    persona, age, seed, question, answer, scores, rationales, claims = row
    record.data = {"question": question, "answer": answer}
    record.status, record.reason = Status.ACCEPTED, None  # the fake judge's verdict is noise
    record.provenance.axes = {"persona": persona, "age_group": age}
    record.provenance.seed_ids = [seed]
    record.scores = {
        **{f"judge_{c}": float(s) for c, s in zip(CRITERIA, scores, strict=True)},
        "judge_mean": round(sum(scores) / len(scores), 2),
        "grounding_support": round(sum(ok for _, ok in claims) / len(claims), 2),
        "seed_jaccard": 0.08,
    }
    record.notes = {
        "judge": dict(zip(CRITERIA, rationales, strict=True)),
        "claims": [{"claim": c, "supported": ok} for c, ok in claims],
        "nearest_seed": seed,
    }
    (fingerprint,) = store.connection.execute(
        "SELECT fingerprint FROM records WHERE id = ?", (record.id,)
    ).fetchone()
    store.put_record(record, fingerprint)


def review_some(outdir: Path) -> int:
    """Two reviewers' verdicts, one disagreement among them; returns the position of the
    record left unreviewed for the screenshot."""
    with RunStore.in_dir(outdir) as store:
        book = ReviewBook(store)
        book.draw(10, ["age_group"], seed=11)
        records = [book.entry(i)[0] for i in range(book.size())]
        wrong = [r for r in records if "peroxide" in r.data["question"]]
        # the record to photograph: the one with the most to show (grounding claims)
        shown = max(
            (i for i, r in enumerate(records) if r not in wrong),
            key=lambda i: (len(records[i].notes["claims"]), len(records[i].data["answer"])),
        )
        others = [r for i, r in enumerate(records) if i != shown and r not in wrong]
        for record in wrong:
            for who in ("Dr. Ana Ruiz", "Sam Lee"):
                book.add(record.id, who, "verdict", verdict="reject", reason="factually wrong")
        for record in others[:5]:
            book.add(record.id, "Dr. Ana Ruiz", "verdict", verdict="accept")
        for record in others[:3]:
            book.add(record.id, "Sam Lee", "verdict", verdict="accept")
        book.add(
            others[3].id,
            "Sam Lee",
            "verdict",
            verdict="reject",
            reason="does not answer the question",
        )
        answer = others[1].data["answer"]
        book.add(
            others[1].id,
            "Dr. Ana Ruiz",
            "edit",
            edit={**others[1].data, "answer": answer + " If in doubt, call your care team."},
        )
        book.add(
            others[0].id,
            "Sam Lee",
            "comment",
            comment="Fine, though surgeons differ on timelines: worth a caveat.",
        )
        return shown


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        outdir = make_run(Path(tmp))
        position = review_some(outdir)
        running = start_in_thread(outdir)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(running.url)
                page.fill("#name", "Dr. Ana Ruiz")
                page.press("#name", "Enter")
                page.wait_for_url("**/r/*")
                page.goto(f"{running.base}/r/{position}")
                page.screenshot(path=str(HERE / "review-page.png"))
                page.goto(f"{running.base}/summary")
                page.screenshot(path=str(HERE / "review-summary.png"), full_page=True)
                browser.close()
        finally:
            running.stop()
    print(f"wrote {HERE / 'review-page.png'} and {HERE / 'review-summary.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
