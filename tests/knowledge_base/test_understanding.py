"""The query parser and the colloquial lexicon: objects, actions, qualifiers, accent-free."""

from __future__ import annotations

import gzip
import json

import pytest

from knowledge_base.text.normalize import normalize_text
from knowledge_base.understanding.frame import parse_name, parse_question
from knowledge_base.understanding.lexicon import (
    KINDS,
    LexiconError,
    bundled_lexicon,
    fold,
    parse_lexicon,
    staff_entry,
    with_staff_entries,
)
from tests.conftest import SHARED_DATA

LICENCE = "giấy phép lái xe"
LAND = "giấy chứng nhận quyền sử dụng đất"


@pytest.mark.parametrize(
    ("question", "objects", "actions"),
    [
        ("bị mất bằng lái xe thì làm lại thế nào", {LICENCE}, {"cấp lại"}),
        ("bi mat bang lai xe thi lam lai the nao", {LICENCE}, {"cấp lại"}),
        ("sổ đỏ bị rách muốn đổi cái mới", {LAND}, {"cấp đổi"}),
        ("so do bi rach muon doi cai moi", {LAND}, {"cấp đổi"}),
    ],
)
def test_questions_parse_to_object_and_action(question, objects, actions):
    frame = parse_question(question)
    assert objects <= frame.objects
    assert actions <= frame.actions


def test_accent_free_parses_the_same():
    for question in ("làm hộ chiếu cần giấy tờ gì", "đăng ký kết hôn với người nước ngoài"):
        assert parse_question(question) == parse_question(fold(question))


def test_a_name_parses_like_the_question_about_it():
    name = parse_name("Cấp lại giấy phép lái xe")
    question = parse_question("bị mất bằng lái xe")
    assert name.objects == {LICENCE} and "cấp lại" in name.actions
    assert question.objects & name.objects and question.actions & name.actions


def test_qualifiers_are_read_and_a_level_is_not_an_action():
    name = parse_name("Đăng ký khai sinh có yếu tố nước ngoài")
    assert "foreign" in name.qualifiers
    level = parse_name("Cấp đổi thẻ căn cước (thực hiện tại cấp tỉnh)")
    assert "province" in level.qualifiers
    assert "cấp" not in level.actions and "cấp đổi" in level.actions


def test_a_question_without_a_procedure_has_an_empty_frame():
    assert parse_question("hôm nay trời có mưa không").is_empty


def test_malformed_lexicon_lines_are_named():
    with pytest.raises(LexiconError, match="line 2"):
        parse_lexicon("object\tkhai sinh\tgiấy khai sinh\nobject only-two-columns\n")
    with pytest.raises(LexiconError, match="unknown qualifier"):
        parse_lexicon("qualifier\tmartian\tngười sao hỏa\n")


def test_the_lexicon_is_large():
    entries = bundled_lexicon().entries
    assert len(entries) >= 150
    assert sum(len(e.phrases) for e in entries) >= 450


def _catalogue_names() -> list[str]:
    folder = SHARED_DATA / "catalogue"
    if not folder.exists():
        pytest.skip("../shared/data is absent")
    names = []
    with gzip.open(folder / "dichvucong-2026-6-ministries.jsonl.gz", "rt", encoding="utf-8") as f:
        names += [json.loads(line)["ten_thu_tuc"] for line in f if line.strip()]
    with gzip.open(folder / "bqp-2026.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                names.append(str((record.get("metadata") or {}).get("tên_thủ_tục") or ""))
    return [normalize_text(n) for n in names if n]


def test_every_lexicon_entry_reaches_a_catalogue_name():
    """Each official term is found in some catalogue name by the parser's own matching, and
    each qualifier by one of its phrases: no entry points at wording the catalogue never uses."""
    lexicon = bundled_lexicon()
    reached = set()
    for name in _catalogue_names():
        for kind in KINDS:
            reached.update(id(m.entry) for m in lexicon.find(name, kind))
    unreached = [f"{e.kind}: {e.term}" for e in lexicon.entries if id(e) not in reached]
    assert not unreached, unreached


def test_staff_entries_replace_or_retire_the_bundled_entry_of_the_same_kind_and_term():
    base = bundled_lexicon()
    changed = staff_entry("object", "Khai sinh", ["giấy chào đời", " "])
    assert changed.term == "khai sinh" and changed.phrases == ("giấy chào đời",)
    retired = staff_entry(
        "phrase", "xác nhận tình trạng hôn nhân", ["xác nhận tình trạng hôn nhân"]
    )
    merged = with_staff_entries(base, [(changed, True), (retired, False)])
    assert parse_question("giay chao doi", merged).objects == {"khai sinh"}
    assert "khai sinh" not in parse_question("giấy khai sanh", merged).objects  # replaced
    assert (
        "xác nhận tình trạng hôn nhân" not in parse_question("xin giấy độc thân", merged).official
    )
    assert len(merged.entries) == len(base.entries) - 1
    with pytest.raises(LexiconError):
        staff_entry("qualifier", "em bé", ["em bé"])
