"""Convert each supported source line into a ``ProcedureRecord``.

- ``dvc``: the national-portal crawl (``dichvucong-*.jsonl.gz``), whose table cells are run
  together and re-parsed here;
- ``bqp``: per-channel tables parsed from the official .doc exports (``bqp-*.jsonl.gz``);
- ``canonical``: the project's own JSONL (``ProcedureRecord`` as JSON).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

from knowledge_base.importers.records import ChannelRecord, DocumentRecord, ProcedureRecord
from knowledge_base.models import Channel
from knowledge_base.parsing.portal_tables import (
    parse_channels,
    parse_documents,
    parse_legal_basis,
)

SourceFormat = Literal["dvc", "bqp", "canonical"]
_NO_INFO = {"không có thông tin", "không", "không có", "--"}
_PORTAL_PAGE = "https://dichvucong.gov.vn/p/home/dvc-chi-tiet-thu-tuc-hanh-chinh.html?ma_thu_tuc="


def _clean(value: Any) -> str:
    text = str(value or "").strip()
    return "" if text.lower() in _NO_INFO else text


def _levels(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;]", text) if part.strip()]


def _result_text(text: str) -> str:
    # "Quyết định …Mã: KQ.G01.00262Từ khóa…" — keep the result names, drop codes and page chrome.
    text = text.split("Chọn cơ quan thực hiện", 1)[0]
    parts = re.split(r"Mã: KQ\.[\w.]+", text)
    names = [re.sub(r"Từ khóa.*?Mô tả(Không có thông tin)?", "", p).strip() for p in parts]
    return "; ".join(n for n in names if n and n.lower() not in _NO_INFO)


def from_dvc(row: dict[str, Any]) -> ProcedureRecord:
    channels = [
        ChannelRecord(
            channel=r.channel,
            time_limit=r.time_limit_text,
            fee=r.fee_text,
            description=r.description,
        )
        for r in parse_channels(str(row.get("cach_thuc_thuc_hien") or ""))
    ]
    documents = [
        DocumentRecord(name=d.name, originals=d.originals, copies=d.copies, form=d.form)
        for d in parse_documents(str(row.get("thanh_phan_ho_so") or ""))
    ]
    code = _clean(row.get("ma_thu_tuc"))
    return ProcedureRecord(
        code=code,
        name=_clean(row.get("ten_thu_tuc")),
        field=_clean(row.get("linh_vuc")),
        levels=_levels(_clean(row.get("cap_thuc_hien"))),
        implementing_agency=_clean(row.get("co_quan_thuc_hien")),
        competent_agency=_clean(row.get("co_quan_co_tham_quyen")),
        receiving_address=_clean(row.get("dia_chi_tiep_nhan")),
        target_group=_clean(row.get("doi_tuong_thuc_hien")),
        steps=_clean(row.get("trinh_tu_thuc_hien")),
        result=_result_text(str(row.get("ket_qua_xu_ly") or "")),
        legal_basis=[str(ref) for ref in parse_legal_basis(str(row.get("can_cu_phap_ly") or ""))],
        conditions=_clean(row.get("yeu_cau_dieu_kien")),
        source_url=_PORTAL_PAGE + code if code else "",
        channels=channels,
        documents=documents,
    )


_BQP_CHANNELS = {
    "trực tiếp": Channel.IN_PERSON,
    "trực tuyến": Channel.ONLINE,
    "dịch vụ bưu chính": Channel.POST,
    "bưu chính": Channel.POST,
}


def _bqp_counts(note: str) -> tuple[int | None, int | None]:
    originals = re.search(r"Bản chính:\s*(\d+)", note)
    copies = re.search(r"Bản sao:\s*(\d+)", note)
    return (
        int(originals.group(1)) if originals else None,
        int(copies.group(1)) if copies else None,
    )


def from_bqp(row: dict[str, Any]) -> ProcedureRecord:
    meta = row.get("metadata") or {}
    content = row.get("content") or {}
    tables = row.get("tables") or {}
    channels = []
    for item in tables.get("hinh_thuc_nop") or []:
        channel = _BQP_CHANNELS.get(str(item.get("hinh_thuc", "")).strip().lower())
        if channel is None:
            continue
        channels.append(
            ChannelRecord(
                channel=channel,
                time_limit=_clean(item.get("thoi_han_giai_quyet")),
                fee=_clean(item.get("phi_le_phi")),
                description=_clean(item.get("mo_ta")),
            )
        )
    documents = []
    for item in tables.get("thanh_phan_ho_so") or []:
        name = _clean(item.get("ten_giay_to"))
        if not name:
            continue
        originals, copies = _bqp_counts(str(item.get("ghi_chu") or ""))
        form = _clean(item.get("so_luong"))
        documents.append(
            DocumentRecord(
                name=name,
                originals=originals,
                copies=copies,
                form=form if re.search(r"\.(docx?|pdf|xlsx?)$", form, re.I) else "",
            )
        )
    legal = [_clean(item.get("trich_yeu")) for item in tables.get("can_cu_phap_ly") or []]
    code = _clean(row.get("thu_tuc_id") or meta.get("mã_thủ_tục"))
    return ProcedureRecord(
        code=code,
        name=_clean(meta.get("tên_thủ_tục")),
        field=_clean(meta.get("lĩnh_vực")),
        levels=_levels(_clean(meta.get("cấp_thực_hiện"))),
        implementing_agency=_clean(content.get("cơ_quan_thực_hiện")),
        competent_agency=_clean(content.get("cơ_quan_có_thẩm_quyền")),
        receiving_address=_clean(content.get("địa_chỉ_tiếp_nhận_hs")),
        target_group=_clean(content.get("đối_tượng_thực_hiện")),
        steps=_clean(content.get("trình_tự_thực_hiện")),
        result=_clean(content.get("kết_quả_thực_hiện")),
        legal_basis=[x for x in legal if x],
        conditions=_clean(content.get("yêu_cầu_điều_kiện_thực_hiện")),
        source_url=_PORTAL_PAGE + code if code else "",
        channels=channels,
        documents=documents,
    )


def from_canonical(row: dict[str, Any]) -> ProcedureRecord:
    return ProcedureRecord.model_validate(row)


CONVERTERS: dict[SourceFormat, Callable[[dict[str, Any]], ProcedureRecord]] = {
    "dvc": from_dvc,
    "bqp": from_bqp,
    "canonical": from_canonical,
}


def detect_format(row: dict[str, Any]) -> SourceFormat:
    if "ma_thu_tuc" in row:
        return "dvc"
    if "thu_tuc_id" in row or "tables" in row:
        return "bqp"
    return "canonical"
