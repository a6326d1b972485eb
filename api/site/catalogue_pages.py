"""Staff pages for the procedure catalogue: browse and search, one record with what was parsed
from it, and uploading a catalogue file through the same importer as ``hotline kb import``."""

from __future__ import annotations

import io
import zlib
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.deps import EditorDep, KnowledgeBaseDep, ReviewerDep, run_in_session
from api.routes.procedures import find_procedures, procedure_by_code
from api.site.render import SITE_PREFIX, page
from knowledge_base.db import session_scope
from knowledge_base.importers.service import ImportReport, import_records, parse_lines
from knowledge_base.parsing.coverage import coverage_report
from knowledge_base.service import KnowledgeBase

router = APIRouter(prefix=f"{SITE_PREFIX}/procedures", include_in_schema=False)
PAGE_SIZE = 25
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
MAX_TEXT_BYTES = 256 * 1024 * 1024  # decompressed; the national catalogue is about 45 MB
SHOWN_REJECTIONS = 50


class UploadRefusedError(ValueError):
    """The uploaded file cannot be read at all (too big, not gzip, not UTF-8)."""


@router.get("")
async def procedures_page(
    request: Request,
    kb: KnowledgeBaseDep,
    staff: EditorDep,
    q: Annotated[str, Query(max_length=500)] = "",
    page_number: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    offset = (page_number - 1) * PAGE_SIZE
    found = await run_in_session(
        kb, lambda s: find_procedures(kb, s, q, None, None, offset, PAGE_SIZE)
    )
    return page(
        request,
        "procedures.html",
        staff,
        procedures=found.procedures,
        total=found.total,
        q=q,
        page_number=page_number,
        pages=max(1, -(-found.total // PAGE_SIZE)),
    )


@router.get("/{code}")
async def procedure_page(
    request: Request, code: str, kb: KnowledgeBaseDep, staff: EditorDep
) -> HTMLResponse:
    found = await run_in_session(kb, lambda s: procedure_by_code(s, code))
    return page(request, "procedure.html", staff, p=found)


def _gunzip(name: str, payload: bytes) -> bytes:
    """Decompress every gzip member, stopping as soon as the output passes the cap: a small
    file of zeros must not inflate to gigabytes in memory."""
    out = bytearray()
    data = payload
    while data:
        member = zlib.decompressobj(wbits=31)
        while data:
            out += member.decompress(data, MAX_TEXT_BYTES + 1 - len(out))
            if len(out) > MAX_TEXT_BYTES:
                raise UploadRefusedError(
                    f"Tệp {name} giải nén ra hơn {MAX_TEXT_BYTES // 2**20} MB: không nhận."
                )
            if member.eof:
                break
            data = member.unconsumed_tail
        if not member.eof:
            raise UploadRefusedError(f"Tệp {name} không giải nén được (gzip bị cắt cụt).")
        data = member.unused_data
    return bytes(out)


def _text_lines(name: str, payload: bytes) -> list[str]:
    if payload[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            payload = _gunzip(name, payload)
        except zlib.error as exc:
            raise UploadRefusedError(f"Tệp {name} không giải nén được (gzip hỏng).") from exc
    try:
        return io.StringIO(payload.decode("utf-8-sig")).readlines()
    except UnicodeDecodeError as exc:
        raise UploadRefusedError(
            f"Tệp {name} không phải văn bản UTF-8 (JSON Lines, có thể nén .gz)."
        ) from exc


def _import(kb: KnowledgeBase, name: str, payload: bytes) -> dict[str, Any]:
    report = ImportReport(source=name)
    lines = _text_lines(name, payload)
    with session_scope(kb.engine) as session:
        import_records(session, parse_lines(iter(lines), None), report, name)
    refresh = kb.refresh_index()
    return {
        "report": report,
        "rejected": report.rejected[:SHOWN_REJECTIONS],
        "coverage": coverage_report(kb.engine),
        "index_message": refresh.message,
        "index_ok": refresh.ok,
    }


@router.post("/upload")
async def procedures_upload(
    request: Request, kb: KnowledgeBaseDep, staff: ReviewerDep, file: UploadFile
) -> HTMLResponse:
    name = file.filename or "catalogue.jsonl"
    payload = await file.read(MAX_UPLOAD_BYTES + 1)
    context: dict[str, Any]
    try:
        if len(payload) > MAX_UPLOAD_BYTES:
            raise UploadRefusedError(f"Tệp {name} lớn hơn {MAX_UPLOAD_BYTES // 2**20} MB.")
        if not payload.strip():
            raise UploadRefusedError(f"Tệp {name} rỗng.")
        context = await run_in_threadpool(_import, kb, name, payload)
    except UploadRefusedError as exc:
        return page(request, "upload_report.html", staff, 422, error=str(exc), name=name)
    status_code = 200 if not context["report"].rejected else 207
    return page(request, "upload_report.html", staff, status_code, name=name, **context)
