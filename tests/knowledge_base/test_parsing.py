import gzip
import json
from decimal import Decimal

import pytest

from knowledge_base.models import Channel
from knowledge_base.parsing.money_time import parse_fee, parse_money, parse_time_limit
from knowledge_base.parsing.portal_tables import parse_channels, parse_documents, parse_legal_basis
from tests.conftest import shared_file

# Shapes taken from the national-portal crawl (cells run together by the crawler).
CHANNELS_WITH_FEES = (
    "Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến5 Ngày làm việc2,000,000 Việt Nam Đồng"
    "(Phí kiểm tra: 2.000.000 đồng/01 đơn hàng)Dịch vụ bưu chính5 Ngày làm việc2,000,000 Việt Nam Đồng"
    "Trực tiếp5 Ngày làm việc2,000,000 Việt Nam Đồng"
)
CHANNELS_FREE_LABEL_WITH_AMOUNTS = (
    "Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến12 NgàyMiễn phí(Cho một loại hình sản phẩm "
    "hoặc dịch vụ: 8.000.000/lần; thêm một loại hình sản phẩm hoặc dịch vụ: 2.000.000/lần.)"
)
CHANNELS_BARE_NUMBER = "Hình thức nộpThời gianPhí, lệ phíMô tảTrực tuyến1Miễn phíDịch vụ bưu chính1Miễn phíTrực tiếp1Miễn phí"


def test_channels_with_fees_per_channel():
    rows = parse_channels(CHANNELS_WITH_FEES)
    assert [r.channel for r in rows] == [Channel.ONLINE, Channel.POST, Channel.IN_PERSON]
    assert all(r.time_limit == parse_time_limit("5 Ngày làm việc") for r in rows)
    assert rows[0].time_limit is not None and rows[0].time_limit.unit == "ngày làm việc"
    assert all(r.fee is not None and r.fee.amount_vnd == 2_000_000 for r in rows)
    assert "đơn hàng" in rows[0].fee_text


def test_free_label_followed_by_real_amounts_is_not_free():
    (row,) = parse_channels(CHANNELS_FREE_LABEL_WITH_AMOUNTS)
    assert row.fee is not None and row.fee.amount_vnd == 8_000_000 and not row.fee.free
    assert row.fee_text.startswith("Miễn phí (Cho một loại hình")


def test_bare_number_time_has_no_unit():
    rows = parse_channels(CHANNELS_BARE_NUMBER)
    assert len(rows) == 3
    assert rows[0].time_limit is not None
    assert rows[0].time_limit.value == Decimal(1) and rows[0].time_limit.unit is None
    assert rows[0].fee is not None and rows[0].fee.free


def test_channel_word_inside_description_does_not_start_a_row():
    text = "Hình thức nộpThời gianPhí, lệ phíMô tảTrực tiếp15 NgàyMiễn phíTrực tiếp: nộp tại bộ phận một cửa"
    rows = parse_channels(text)
    assert len(rows) == 1 and "nộp tại bộ phận một cửa" in rows[0].description


@pytest.mark.parametrize(
    ("text", "amount", "free"),
    [
        ("Miễn phí", None, True),
        ("Lệ phí : 50.000 Đồng", 50_000, False),
        ("Phí : 0 Đồng", 0, True),
        ("200.000 đồng/lần cấp", 200_000, False),
        ("10 USD(/lần)", None, False),
    ],
)
def test_parse_fee(text, amount, free):
    fee = parse_fee(text)
    assert fee is not None and fee.amount_vnd == amount and fee.free == free


def test_fee_not_stated():
    assert parse_fee("Không có thông tin") is None
    assert parse_money("không có số") is None


def test_documents_counts_and_forms():
    text = (
        "--Tên giấy tờMẫu đơn, tờ khaiSố lượngPhương án kinh doanh.1 bản chínhGiấy chứng nhận đăng ký "
        "doanh nghiệp.0 bản chính,5 bản saoĐơn đề nghị cấp lạiMau-don.docx1 bản chính"
    )
    docs = parse_documents(text)
    assert [d.name for d in docs] == [
        "Phương án kinh doanh.",
        "Giấy chứng nhận đăng ký doanh nghiệp.",
        "Đơn đề nghị cấp lạiMau-don.docx",
    ]
    assert (docs[1].originals, docs[1].copies) == (0, 5)


def test_legal_basis_splits_titles_and_numbers():
    text = (
        "Tên văn bản pháp lýMã văn bảnLuật Khiếu nại năm 201102/2011/QH13"
        "Nghị định 05/2012/NĐ-CP05/2012/NĐ-CP"
    )
    refs = parse_legal_basis(text)
    assert refs[0].title == "Luật Khiếu nại năm 2011" and refs[0].code == "02/2011/QH13"
    assert refs[1].code == "05/2012/NĐ-CP"


@pytest.mark.shared_data
def test_parsers_on_real_portal_records():
    path = shared_file("catalogue", "dichvucong-2026-6-ministries.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for _, line in zip(range(300), handle, strict=False)]
    with_time = sum(
        any(r.time_limit for r in parse_channels(x["cach_thuc_thuc_hien"])) for x in rows
    )
    with_docs = sum(bool(parse_documents(x["thanh_phan_ho_so"])) for x in rows)
    assert with_time / len(rows) >= 0.9
    assert with_docs / len(rows) >= 0.9


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        (
            "Ngay trong ngày tiếp nhận; nếu nhận hồ sơ sau 15 giờ thì trả kết quả ngày hôm sau",
            "0",
            "ngày",
        ),
        ("Trả kết quả trước 16 giờ, trong 2 ngày làm việc", "2", "ngày làm việc"),
        ("12 giờ", "12", "giờ"),
    ],
)
def test_time_of_day_is_not_a_duration(text, value, unit):
    parsed = parse_time_limit(text)
    assert parsed is not None and parsed.value == Decimal(value) and parsed.unit == unit
