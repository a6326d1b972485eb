import json

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from knowledge_base.db import engine_for, make_engine, migrate, session_scope
from knowledge_base.importers.service import ImportReport, import_records, open_lines, parse_lines
from knowledge_base.models import Procedure
from knowledge_base.parsing.coverage import coverage_report
from tests.conftest import shared_file

GOOD = {
    "code": "9.000001",
    "name": "Thủ tục thử nghiệm",
    "field": "Thử nghiệm",
    "channels": [{"channel": "truc_tiep", "time_limit": "5 ngày làm việc", "fee": "50.000 đồng"}],
    "documents": [{"name": "Tờ khai", "originals": 1}],
}


def _run(engine, lines, fmt="canonical"):
    report = ImportReport("test")
    with session_scope(engine) as session:
        import_records(session, parse_lines(iter(lines), fmt), report, "test")
    return report


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    _empty(engine)
    yield engine
    engine.dispose()


def _empty(engine):
    with session_scope(engine) as session:
        session.execute(delete(Procedure))


def test_import_is_idempotent_and_updates(engine):
    line = json.dumps(GOOD, ensure_ascii=False)
    first = _run(engine, [line])
    assert (first.imported, first.updated, first.rejected) == (1, 0, [])
    again = _run(engine, [line])
    assert (again.imported, again.unchanged) == (0, 1)
    changed = json.dumps({**GOOD, "name": "Thủ tục thử nghiệm đã sửa"}, ensure_ascii=False)
    updated = _run(engine, [changed])
    assert updated.updated == 1
    with Session(engine) as session:
        procedure = session.scalar(select(Procedure).where(Procedure.code == "9.000001"))
        assert procedure is not None and procedure.name.endswith("đã sửa")
        assert len(procedure.channels) == 1 and procedure.channels[0].fee_vnd == 50_000
        assert procedure.channels[0].time_limit_unit == "ngày làm việc"


def test_malformed_lines_are_rejected_with_line_numbers_and_nothing_half_written(engine):
    lines = [
        json.dumps(GOOD, ensure_ascii=False),
        "{not json",
        json.dumps({"code": "9.000002"}),  # no name
        json.dumps({**GOOD, "code": "bad code!"}),
        json.dumps([1, 2]),
        json.dumps({**GOOD, "channels": [{"channel": "fax"}]}),
        json.dumps(GOOD, ensure_ascii=False),  # duplicate in the same file
    ]
    report = _run(engine, lines)
    assert report.imported == 1
    assert [r.line for r in report.rejected] == [2, 3, 4, 5, 6, 7]
    assert "not valid JSON" in report.rejected[0].reason
    assert "name" in report.rejected[1].reason
    with Session(engine) as session:
        assert session.scalar(select(func.count(Procedure.id))) == 1


@pytest.mark.shared_data
def test_real_files_import_with_coverage(database_url):
    engine = make_engine(database_url)
    migrate(engine)
    _empty(engine)
    for name, fmt in [
        ("dichvucong-2026-6-ministries.jsonl.gz", "dvc"),
        ("bqp-2026.jsonl.gz", "bqp"),
    ]:
        path = shared_file("catalogue", name)
        with open_lines(path) as handle:
            lines = handle.readlines()
        report = _run(engine, lines, fmt)
        assert report.rejected == [] and report.imported == len(lines)
    coverage = coverage_report(engine)
    assert coverage["time_limit_parsed_where_stated"] >= 0.9
    assert coverage["fee_parsed_where_stated"] >= 0.9
    assert coverage["documents_share"] >= 0.9
    engine.dispose()


def test_sqlite_engine_is_cached_per_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert engine_for(url) is engine_for(url)
