"""What a turn means given the stored state (nlu/follow_up.py), on the bundled lexicon."""

import pytest

from nlu.dialogue_state import DialogueState
from nlu.follow_up import MoveKind, resolve, strip_correction

NAMES = {
    "1.001456": "Cấp hộ chiếu phổ thông ở trong nước (thực hiện tại cấp tỉnh)",
    "1.001471": "Cấp hộ chiếu phổ thông ở trong nước (thực hiện tại cấp trung ương)",
    "3.000347": "Đổi giấy phép lái xe",
    "3.000348": "Cấp lại giấy phép lái xe",
    "1.001193": "Đăng ký khai sinh",
}


def _on_list() -> DialogueState:
    return DialogueState(turn=2, candidates=["1.001456", "1.001471"], candidates_turn=1)


def _on(code: str) -> DialogueState:
    return DialogueState(turn=2, procedure_code=code, procedure_turn=1)


@pytest.mark.parametrize(
    ("said", "rest"),
    [
        ("à không, ý tôi là đăng ký kết hôn", "đăng ký kết hôn"),
        ("không phải, tôi bị mất thẻ", "tôi bị mất thẻ"),
        ("Nhầm rồi, hỏi cấp lại", "hỏi cấp lại"),
        ("khong phai, toi bi mat the", "toi bi mat the"),
        ("ý em là làm lại bằng lái", "làm lại bằng lái"),
    ],
)
def test_a_correction_marker_is_taken_off(said: str, rest: str):
    assert strip_correction(said) == (True, rest)


@pytest.mark.parametrize("said", ["không có giấy khai sinh thì sao", "đăng ký kết hôn"])
def test_a_plain_question_is_no_correction(said: str):
    assert strip_correction(said) == (False, said)


@pytest.mark.parametrize(
    ("said", "kind", "code"),
    [
        ("số 2", MoveKind.CHOOSE, "1.001471"),
        ("cái thứ nhất", MoveKind.CHOOSE, "1.001456"),
        ("làm ở cấp tỉnh", MoveKind.CHOOSE, "1.001456"),
        ("còn lệ phí thì sao", MoveKind.ASPECT_OF_CANDIDATES, None),
        ("ở đâu", MoveKind.ASPECT_OF_CANDIDATES, None),  # "đâu" is not "đầu" (the first)
        ("nop online duoc khong", MoveKind.ASPECT_OF_CANDIDATES, None),
        ("còn đăng ký kết hôn thì sao", MoveKind.SEARCH, None),
    ],
)
def test_turns_with_a_list_open(said: str, kind: MoveKind, code: str | None):
    move = resolve(said, _on_list(), NAMES.get)
    assert (move.kind, move.code) == (kind, code)


def test_an_action_change_moves_to_the_sibling_with_the_record_named():
    move = resolve("thế nếu bị mất thì sao", _on("3.000347"), NAMES.get)
    assert move.kind is MoveKind.SIBLING
    assert move.objects == {"giấy phép lái xe"} and move.leaving == ("3.000347",)
    assert "giấy phép lái xe" in move.question


def test_a_cue_that_also_means_the_current_action_still_changes_it():
    # "hết hạn" reads as đổi, cấp đổi, gia hạn and cấp lại: after "cấp lại" it means another
    move = resolve("còn nếu hết hạn thì sao", _on("3.000348"), NAMES.get)
    assert move.kind is MoveKind.SIBLING and move.leaving == ("3.000348",)


def test_an_aspect_stays_on_the_current_procedure():
    move = resolve("mất bao lâu", _on("1.001193"), NAMES.get)
    assert (move.kind, move.code) == (MoveKind.ASPECT_OF_CURRENT, "1.001193")


def test_a_correction_naming_a_new_record_is_a_new_search():
    move = resolve("à không, ý tôi là đăng ký kết hôn", _on("1.001193"), NAMES.get)
    assert move.kind is MoveKind.SEARCH and move.corrected
    assert move.question == "đăng ký kết hôn"


def test_without_context_everything_is_a_search():
    assert resolve("lệ phí bao nhiêu", DialogueState(), NAMES.get).kind is MoveKind.SEARCH
