"""Figures for the staff dashboard: traffic per day and channel, how often the bot answered,
refused or handed over, satisfaction, the most asked procedures and response times."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from nlu import inbox
from nlu.models import ChatTurn, Conversation, Rating, TurnRole

PROVINCE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")  # days are the province's days, not UTC's


@dataclass
class DayTraffic:
    day: date
    web: int = 0
    phone: int = 0


@dataclass
class Dashboard:
    start: date
    end: date
    days: list[DayTraffic]
    conversations: int = 0
    questions: int = 0  # citizen turns the bot replied to
    answered: int = 0
    refused: int = 0
    handoffs: int = 0  # conversations handed to a person
    ratings: dict[int, int] = field(default_factory=dict)
    top_procedures: list[tuple[str, int]] = field(default_factory=list)
    top_unanswered: list[tuple[str, int]] = field(default_factory=list)
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.questions if self.questions else None

    @property
    def refusal_rate(self) -> float | None:
        return self.refused / self.questions if self.questions else None

    @property
    def handoff_rate(self) -> float | None:
        return self.handoffs / self.conversations if self.conversations else None

    @property
    def rating_count(self) -> int:
        return sum(self.ratings.values())

    @property
    def average_rating(self) -> float | None:
        total = self.rating_count
        return sum(s * n for s, n in self.ratings.items()) / total if total else None


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time.min, PROVINCE_TZ),
        datetime.combine(end + timedelta(days=1), time.min, PROVINCE_TZ),
    )


def _local_day(moment: datetime) -> date:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))
    return aware.astimezone(PROVINCE_TZ).date()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def dashboard(session: Session, start: date, end: date, top: int = 10) -> Dashboard:
    since, until = _bounds(start, end)
    days = {
        start + timedelta(days=i): DayTraffic(start + timedelta(days=i))
        for i in range((end - start).days + 1)
    }
    result = Dashboard(start, end, list(days.values()))
    for created, channel in session.execute(
        select(Conversation.created_at, Conversation.channel).where(
            Conversation.created_at >= since, Conversation.created_at < until
        )
    ):
        bucket = days.get(_local_day(created))
        if bucket is not None:
            if channel == "phone":
                bucket.phone += 1
            else:
                bucket.web += 1
            result.conversations += 1
    _count_turns(session, since, until, result)
    result.ratings = {score: 0 for score in range(1, 6)}
    for (score,) in session.execute(
        select(Rating.score).where(Rating.created_at >= since, Rating.created_at < until)
    ):
        if score in result.ratings:
            result.ratings[score] += 1
    procedures = Counter[str]()
    for (code,) in session.execute(
        select(ChatTurn.procedure_code).where(
            ChatTurn.created_at >= since,
            ChatTurn.created_at < until,
            ChatTurn.answered.is_(True),
            ChatTurn.procedure_code.is_not(None),
        )
    ):
        if code:
            procedures[code] += 1
    result.top_procedures = procedures.most_common(top)
    window = max(1, (datetime.now(PROVINCE_TZ).date() - start).days + 1)
    result.top_unanswered = [(g.question, g.count) for g in inbox.unanswered(session, window, top)]
    return result


def _count_turns(session: Session, since: datetime, until: datetime, result: Dashboard) -> None:
    """One reply per citizen question: its first bot message tells answered or refused."""
    replied: set[tuple[str, float | None]] = set()
    handed_over: set[str] = set()
    latencies: list[float] = []
    awaiting: set[str] = set()
    rows = session.execute(
        select(
            ChatTurn.conversation_id,
            ChatTurn.role,
            ChatTurn.answered,
            ChatTurn.intent,
            ChatTurn.latency_ms,
        )
        .where(ChatTurn.created_at >= since, ChatTurn.created_at < until)
        .order_by(ChatTurn.conversation_id, ChatTurn.id)
    )
    for conversation_id, role, answered, intent, latency_ms in rows:
        if role is TurnRole.CITIZEN:
            awaiting.add(conversation_id)
            continue
        if role is not TurnRole.BOT:
            continue
        if intent == "handoff":
            handed_over.add(conversation_id)
        if conversation_id not in awaiting:
            continue  # a second message of the same reply
        awaiting.discard(conversation_id)
        result.questions += 1
        if answered is True:
            result.answered += 1
        elif answered is False:
            result.refused += 1
        if latency_ms is not None and (conversation_id, latency_ms) not in replied:
            replied.add((conversation_id, latency_ms))
            latencies.append(latency_ms)
    result.handoffs = len(handed_over)
    result.latency_p50_ms = percentile(latencies, 0.5)
    result.latency_p95_ms = percentile(latencies, 0.95)


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cells(row: Sequence[object]) -> list[object]:
    """Citizens' own words go into these cells: one starting like a formula would run in Excel
    (CSV injection), so it is quoted as text with a leading apostrophe."""
    return [f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v for v in row]


def to_csv(board: Dashboard) -> str:
    """Daily traffic, then the period's totals: one file a spreadsheet opens as it is."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["ngay", "hoi_thoai_web", "cuoc_goi", "tong"])
    for day in board.days:
        writer.writerow([day.day.isoformat(), day.web, day.phone, day.web + day.phone])
    writer.writerow([])
    writer.writerow(["chi_so", "gia_tri"])
    for name, value in [
        ("tu_ngay", board.start.isoformat()),
        ("den_ngay", board.end.isoformat()),
        ("so_hoi_thoai", board.conversations),
        ("so_cau_hoi", board.questions),
        ("ty_le_tra_loi", _rate(board.answer_rate)),
        ("ty_le_tu_choi", _rate(board.refusal_rate)),
        ("ty_le_chuyen_nhan_vien", _rate(board.handoff_rate)),
        ("diem_hai_long_tb", _rate(board.average_rating)),
        ("so_danh_gia", board.rating_count),
        ("thoi_gian_phan_hoi_p50_ms", board.latency_p50_ms or ""),
        ("thoi_gian_phan_hoi_p95_ms", board.latency_p95_ms or ""),
    ]:
        writer.writerow([name, value])
    writer.writerow([])
    writer.writerow(["thu_tuc_hoi_nhieu", "so_lan"])
    writer.writerows(_cells(row) for row in board.top_procedures)
    writer.writerow([])
    writer.writerow(["cau_hoi_chua_tra_loi", "so_lan"])
    writer.writerows(_cells(row) for row in board.top_unanswered)
    return out.getvalue()
