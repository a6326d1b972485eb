"""Dossier codes, CSV import, second-factor look-up and the failure limit (SQLite, PostgreSQL,
and the Redis limiter on the real server)."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from knowledge_base.db import make_engine, migrate, session_scope
from nlu.dossiers import (
    SAMPLE_DOSSIERS,
    LookUpLimits,
    MemoryAttemptLimiter,
    Quota,
    RedisAttemptLimiter,
    TooManyAttemptsError,
    import_dossiers,
    look_up,
    normalize_dossier_code,
    normalize_last4,
    read_dossier_csv,
)
from nlu.models import Dossier

CODE = "000.00.12.H55-240101-0001"
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    "text",
    [
        CODE,
        "mã hồ sơ 000.00.12.h55-240101-0001 nhé",
        "000 00 12 H55 240101 0001",
        "00000 12H55 2401010001",
    ],
)
def test_dossier_codes_are_read_however_typed(text):
    assert normalize_dossier_code(text) == CODE


@pytest.mark.parametrize("text", ["", "12345", "hồ sơ của tôi", "000.00.12.H55-2401-0001"])
def test_not_a_dossier_code(text):
    assert normalize_dossier_code(text) is None


def test_last_four_digits():
    assert normalize_last4("0912 345 678") == "5678"
    assert normalize_last4("5 6 7 8") == "5678"
    assert normalize_last4("56") is None


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_import_upserts_and_rejects_bad_rows(engine, tmp_path: Path):
    with session_scope(engine) as session:
        first = import_dossiers(session, read_dossier_csv(SAMPLE_DOSSIERS))
    assert first.imported == 4 and not first.rejected
    bad = tmp_path / "export.csv"
    bad.write_text(
        "ma_ho_so,so_dien_thoai,ten_thu_tuc,trang_thai,co_quan_tiep_nhan,ngay_tiep_nhan,ngay_hen_tra\n"
        f"{CODE},0900000000,Đăng ký khai sinh,Đang giải quyết,UBND,2024-01-01,2024-01-05\n"
        "not-a-code,0900000000,X,Đang giải quyết,UBND,2024-01-01,2024-01-05\n"
        f"{CODE[:-1]}2,0900000000,X,Đang giải quyết,UBND,01/02/2024,2024-01-05\n",
        encoding="utf-8",
    )
    with session_scope(engine) as session:
        second = import_dossiers(session, read_dossier_csv(bad))
    assert (second.imported, second.updated) == (0, 1)
    assert [line for line, _ in second.rejected] == [3, 4]
    with session_scope(engine) as session:
        stored = session.scalar(select(Dossier).where(Dossier.code == CODE))
        assert stored is not None and stored.phone_last4 == "0000"
        assert stored.status == "Đang giải quyết"
        assert session.query(Dossier).count() == 4  # nothing half-written


def test_missing_columns_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_text("ma_ho_so,trang_thai\n", encoding="utf-8")
    with pytest.raises(ValueError, match="lacks columns"):
        list(read_dossier_csv(path))


def test_look_up_needs_both_factors_and_limits_guessing(engine):
    with session_scope(engine) as session:
        import_dossiers(session, read_dossier_csv(SAMPLE_DOSSIERS))
    limiter, limits = MemoryAttemptLimiter(), LookUpLimits(3, 60, 20, 86_400)
    with session_scope(engine) as session:
        found = look_up(session, limiter, limits, "conv-1", CODE, "5678")
        assert found is not None and found.status == "Đã có kết quả"
        assert look_up(session, limiter, limits, "conv-1", CODE, "0000") is None
        assert (
            look_up(session, limiter, limits, "conv-1", "999.99.99.H99-999999-9999", "5678") is None
        )
        assert look_up(session, limiter, limits, "conv-1", CODE, "1111") is None
        with pytest.raises(TooManyAttemptsError):
            look_up(session, limiter, limits, "conv-1", CODE, "5678")
        # wrong digits for one code from many conversations lock that code too
        assert look_up(session, limiter, limits, "conv-2", CODE, "2222") is None
        with pytest.raises(TooManyAttemptsError):
            look_up(session, limiter, limits, "conv-3", CODE, "5678")


def test_one_client_trying_many_codes_from_many_conversations_is_limited(engine):
    limiter, limits = MemoryAttemptLimiter(), LookUpLimits(5, 60, 4, 86_400)
    with session_scope(engine) as session:
        for n in range(4):
            code = f"000.00.12.H55-240101-{n:04d}"
            assert look_up(session, limiter, limits, f"c{n}", code, "0000", "client-a") is None
        with pytest.raises(TooManyAttemptsError):
            look_up(session, limiter, limits, "c9", "000.00.12.H55-240101-0099", "0", "client-a")
        assert (
            look_up(session, limiter, limits, "c9", "000.00.12.H55-240101-0099", "0", "b") is None
        )


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_fifty_parallel_wrong_guesses_pass_at_most_the_limit(kind):
    limiter = MemoryAttemptLimiter() if kind == "memory" else RedisAttemptLimiter(REDIS_URL)
    quotas = [
        Quota(f"code:test-{uuid.uuid4().hex}", 5, 60),
        Quota(f"conv:{uuid.uuid4().hex}", 50, 60),
    ]
    barrier = threading.Barrier(50)

    def guess(_: int) -> bool:
        barrier.wait()
        return limiter.reserve(quotas)

    with ThreadPoolExecutor(max_workers=50) as pool:
        passed = sum(pool.map(guess, range(50)))
    assert passed == 5
    limiter.release(quotas)  # a success gives its attempt back
    assert limiter.reserve(quotas) and not limiter.reserve(quotas)


def test_an_unreachable_redis_refuses_look_ups():
    limiter = RedisAttemptLimiter("redis://127.0.0.1:1/0")
    assert not limiter.reserve([Quota(f"code:{uuid.uuid4().hex}", 5, 60)])


def test_the_memory_limiter_stays_bounded_under_many_distinct_keys():
    limiter = MemoryAttemptLimiter(max_keys=100)
    for n in range(5000):  # every guess from a new conversation, for a new code
        assert limiter.reserve([Quota(f"conv:{n}", 3, 60), Quota(f"code:{n}", 3, 60)])
    assert len(limiter) <= 100
    # the most recent keys are still counted
    recent = [Quota("conv:4999", 3, 60)]
    assert limiter.reserve(recent) and limiter.reserve(recent)
    assert not limiter.reserve(recent)


def test_the_memory_limiter_sweeps_expired_keys_first():
    limiter = MemoryAttemptLimiter(max_keys=10)
    for n in range(8):
        limiter.reserve([Quota(f"gone:{n}", 3, 0)])  # a window already over
    kept = Quota("kept", 2, 60)
    assert limiter.reserve([kept])
    for n in range(5):
        limiter.reserve([Quota(f"new:{n}", 3, 60)])
    assert len(limiter) == 6  # the expired ones went, not the live counter
    assert limiter.reserve([kept]) and not limiter.reserve([kept])
