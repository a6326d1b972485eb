"""Templates, Vietnamese labels and the page helper shared by the staff pages."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api.auth.models import Role
from api.auth.service import Staff
from nlu.analytics import PROVINCE_TZ

SITE_PREFIX = "/staff"
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")

FAQ_STATUS_LABELS = {
    "draft": "Bản nháp",
    "in_review": "Chờ duyệt",
    "published": "Đã xuất bản",
    "archived": "Đã lưu trữ",
}
FEEDBACK_STATUS_LABELS = {"moi": "Mới", "dang_xu_ly": "Đang xử lý", "da_tra_loi": "Đã trả lời"}
ROLE_LABELS = {"editor": "Biên tập viên", "reviewer": "Người duyệt", "admin": "Quản trị"}
NOTICES = {
    "created": "Đã tạo bản nháp.",
    "saved": "Đã lưu phiên bản mới.",
    "submitted": "Đã gửi duyệt.",
    "drafted": "Đã tạo bản nháp câu hỏi thường gặp từ hộp thư.",
    "dismissed": "Đã bỏ qua nhóm câu hỏi.",
    "linked": "Đã gắn các cách hỏi vào thủ tục.",
    "procedure": "Đã ghi nhận thủ tục đã tư vấn.",
    "replied": "Đã gửi trả lời.",
    "released": "Đã trả hội thoại về cho trợ lý ảo.",
    "answered": "Đã lưu trả lời góp ý.",
    "facts": "Đã lưu số liệu của tỉnh.",
    "user": "Đã tạo tài khoản.",
    "retried": "Đã đưa thông báo vào hàng đợi gửi lại.",
    "unsubscribed": "Đã hủy đăng ký nhận thông báo của công dân.",
}
ERROR_MESSAGES = {
    "forbidden": "Bạn không có quyền thực hiện thao tác này, hoặc trang đã cũ (hãy tải lại trang).",
    "not_found": "Không tìm thấy mục được yêu cầu.",
    "version_conflict": "Mục này vừa được người khác lưu; thay đổi của bạn chưa được lưu.",
    "workflow": "Thao tác này không áp dụng được với trạng thái hiện tại của mục.",
    "four_eyes": "Mục phải được gửi duyệt, và người duyệt phải khác người soạn phiên bản này.",
    "invalid_request": "Dữ liệu nhập chưa hợp lệ.",
    "rate_limited": "Quá nhiều yêu cầu trong thời gian ngắn; hãy thử lại sau ít phút.",
}


AUDIT_ACTIONS = {
    "create": "Tạo",
    "edit": "Sửa",
    "submit": "Gửi duyệt",
    "publish": "Xuất bản",
    "archive": "Lưu trữ",
    "rollback": "Khôi phục",
    "feedback": "Trả lời góp ý",
    "fact.save": "Lưu số liệu",
    "fact.clear": "Xoá số liệu",
    "ranker.retrain": "Huấn luyện lại mô hình",
    "user.unlock": "Mở khóa đăng nhập",
    "user.disable": "Khóa tài khoản",
    "user.enable": "Mở lại tài khoản",
    "user.reset": "Đặt lại mật khẩu",
    "user.signout": "Đăng xuất mọi phiên",
    "notification.retry": "Gửi lại thông báo",
    "notification.unsubscribe": "Hủy đăng ký thông báo",
}
_LOG_PHRASES = (
    (re.compile(r"^created$"), "tạo mới"),
    (re.compile(r"^edited$"), "chỉnh sửa"),
    (re.compile(r"rollback to (\d+)"), r"khôi phục bản \1"),
    (re.compile(r"to version (\d+) as (\d+)"), r"về bản \1, thành bản \2"),
    (re.compile(r"version (\d+)"), r"phiên bản \1"),
)


def log_words(text: str) -> str:
    """Version notes and audit details, stored in English, shown to staff in Vietnamese."""
    for pattern, words in _LOG_PHRASES:
        text = pattern.sub(words, text)
    return text


def local_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))
    return aware.astimezone(PROVINCE_TZ).strftime("%d/%m/%Y %H:%M")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%".replace(".", ",")


templates.env.filters["local_time"] = local_time
templates.env.filters["percent"] = percent
templates.env.filters["log_words"] = log_words
templates.env.globals.update(
    FAQ_STATUS_LABELS=FAQ_STATUS_LABELS,
    FEEDBACK_STATUS_LABELS=FEEDBACK_STATUS_LABELS,
    ROLE_LABELS=ROLE_LABELS,
    AUDIT_ACTIONS=AUDIT_ACTIONS,
    Role=Role,
)


def page(
    request: Request, template: str, staff: Staff | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("notice", ""))
    return templates.TemplateResponse(
        request,
        template,
        {"staff": staff, "notice": notice, **context},
        status_code=status_code,
    )


def error_page(request: Request, status_code: int, code: str, detail: str = "") -> HTMLResponse:
    message = ERROR_MESSAGES.get(code, "Đã có lỗi xảy ra.")
    return page(request, "error.html", None, status_code, message=message, detail=detail, code=code)


def to_login(request: Request) -> RedirectResponse:
    target = f"{SITE_PREFIX}/login?next={request.url.path}"
    response = RedirectResponse(target, status_code=303)
    if request.headers.get("hx-request"):
        response.headers["HX-Redirect"] = target  # htmx swaps content; send the page itself
    return response


def back_to(url: str, notice: str = "") -> RedirectResponse:
    separator = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{separator}notice={notice}" if notice else url, status_code=303)
