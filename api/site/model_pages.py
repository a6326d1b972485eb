"""The staff page about the ranking model: what is in service and how well it cross-validated,
and for admins a button that retrains it in the background."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from api.deps import AdminDep, EditorDep, KnowledgeBaseDep
from api.routes.admin_model import RankerJobDep, ranker_view
from api.site.render import SITE_PREFIX, back_to, local_time, page
from knowledge_base.ranking.jobs import TrainingBusyError

router = APIRouter(prefix=f"{SITE_PREFIX}/model", include_in_schema=False)
PAGE = f"{SITE_PREFIX}/model"

SOURCE_LABELS = {
    "staff": "Câu hỏi thường gặp do nhân viên soạn",
    "synthetic": "Câu hỏi sinh tự động từ tên thủ tục",
    "curated": "Câu hỏi do người đặt",
}
MODEL_NOTICES = {
    "started": "Đã bắt đầu huấn luyện lại. Trang sẽ tự tải lại khi có kết quả.",
    "busy": "Đang có một lần huấn luyện khác chạy; hãy chờ lần đó xong.",
}
# while a training runs, the page reloads itself this often to show the result
REFRESH_S = 10


def moment(iso: str) -> str:
    """The model's ``trained_at`` (ISO 8601) in the province's time, as on the other pages."""
    try:
        return local_time(datetime.fromisoformat(iso))
    except ValueError:
        return iso


@router.get("")
async def model_page(
    request: Request,
    kb: KnowledgeBaseDep,
    job: RankerJobDep,
    staff: EditorDep,
    notice: Annotated[str, Query(max_length=16)] = "",
) -> HTMLResponse:
    view = await run_in_threadpool(ranker_view, kb, job)
    return page(
        request,
        "model.html",
        staff,
        view=view,
        notice=MODEL_NOTICES.get(notice),
        source_labels=SOURCE_LABELS,
        moment=moment,
        refresh_s=REFRESH_S,
    )


@router.post("/retrain")
async def model_retrain(job: RankerJobDep, staff: AdminDep) -> RedirectResponse:
    try:
        job.start(staff.username)
    except TrainingBusyError:
        return back_to(PAGE, "busy")
    return back_to(PAGE, "started")
