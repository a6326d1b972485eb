import unicodedata

from knowledge_base.retrieval.documents import SearchDocument
from knowledge_base.retrieval.index import build_index
from knowledge_base.text.accents import AccentRestorer
from knowledge_base.text.normalize import fold_accents, normalize_text, strip_fillers
from knowledge_base.text.tokens import lexical_tokens
from knowledge_base.understanding.frame import expand, parse_question


def test_normalize_nfc_lower_and_tone_placement():
    decomposed = unicodedata.normalize("NFD", "Đăng Ký  HÒA giải")
    assert normalize_text(decomposed) == "đăng ký hoà giải"
    assert normalize_text("thuỷ") == normalize_text("thủy")


def test_fold_accents_includes_d_stroke():
    assert fold_accents("đăng ký khai sinh") == "dang ky khai sinh"
    assert fold_accents(normalize_text("Đồng")) == "dong"


def test_strip_spoken_fillers():
    assert strip_fillers("Alo, ờ cho tôi hỏi là làm căn cước ở đâu") == "làm căn cước ở đâu"
    assert strip_fillers("à em muốn hỏi là lệ phí hộ chiếu") == "lệ phí hộ chiếu"
    assert strip_fillers("alo cho toi hoi lam ho chieu") == "lam ho chieu"
    # Content words that merely contain a filler survive.
    assert strip_fillers("hỏi đáp về hộ tịch") == "hỏi đáp về hộ tịch"


def _expanded(text: str) -> str:
    return expand(text, parse_question(text))


def test_lexicon_expands_abbreviations_with_and_without_accents():
    assert "căn cước" in _expanded("làm CCCD mất bao lâu")
    assert "giấy chứng nhận quyền sử dụng đất" in _expanded("sang ten so do")
    assert "bảo hiểm y tế" in _expanded("cấp lại thẻ BHYT")
    assert "giấy phép lái xe" in _expanded("đổi bằng lái")


def test_accent_restorer_uses_catalogue_language():
    restorer = AccentRestorer().fit(["Đăng ký khai sinh", "Cấp hộ chiếu phổ thông"])
    assert restorer.restore("dang ky khai sinh") == "đăng ký khai sinh"
    assert restorer.restore("lam giay khai sinh cho con") == "làm giấy khai sinh cho con"
    assert restorer.restore("cấp ho chieu") == "cấp hộ chiếu"


def test_lexical_tokens_match_with_and_without_accents():
    accented = set(lexical_tokens("Đăng ký khai sinh"))
    folded = set(lexical_tokens("dang ky khai sinh"))
    assert {"khai_sinh", "dang_ky"} <= accented & folded


def test_index_build_swaps_atomically(tmp_path):
    docs = [
        SearchDocument(
            "procedure:1",
            "procedure",
            "Đăng ký khai sinh",
            ("1",),
            "đăng ký khai sinh",
            ("đăng ký khai sinh",),
        )
    ]
    target = tmp_path / "index"
    build_index(docs, None, target)
    first = (target / "manifest.json").read_text()
    build_index(docs, None, target)
    assert (target / "manifest.json").exists() and first
    assert not (tmp_path / "index.building").exists()
    assert not (tmp_path / "index.old").exists()
