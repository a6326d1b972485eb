"""The knowledge base as one component: database, index lifecycle, ``ask``."""

from __future__ import annotations

import logging
import threading
import time
from functools import lru_cache
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from knowledge_base import facts
from knowledge_base.answer.aspect import Aspect, detect_aspect
from knowledge_base.answer.compose import (
    compose_procedure_answer,
    near_variants,
    refusal,
    unsure,
    variant_note,
)
from knowledge_base.answer.refusals import figure_missing_text, precise_refusal
from knowledge_base.answer.results import (
    AskResult,
    FaqHit,
    IndexRefresh,
    ProcedureHit,
    RefusalKind,
)
from knowledge_base.answer.scope import is_out_of_scope
from knowledge_base.curation import is_live
from knowledge_base.db import check_schema, engine_for, migrate, session_scope, setup_lock
from knowledge_base.facts import FactBook
from knowledge_base.models import FaqEntry, Procedure, ProvinceFact
from knowledge_base.ranking.model import Ranker
from knowledge_base.ranking.serving import RankerSource
from knowledge_base.retrieval.documents import content_stamp, corpus_hash, load_documents
from knowledge_base.retrieval.embedder import Embedder, build_embedder
from knowledge_base.retrieval.index import (
    Manifest,
    SearchIndex,
    build_index,
    load_index,
    publish_lock,
    read_manifest,
)
from knowledge_base.retrieval.searcher import Hit, HybridSearcher, analyze, unranked_confidence
from knowledge_base.settings import Settings
from knowledge_base.text.normalize import normalize_text
from knowledge_base.understanding.lexicon import use_lexicon
from knowledge_base.understanding.staff import site_lexicon

logger = logging.getLogger(__name__)
SAMPLE_CATALOGUE = "sample_catalogue.jsonl"


INDEX_CHECK_INTERVAL_S = 5.0
ANSWER_CACHE_SIZE = 4096
# Measured on the everyday development set and the shared citizen questions: a question with a
# recognised object or action is answered from P(top is right) >= answerable_threshold; one in
# which nothing was recognised needs this much, and below UNSURE_FLOOR it is out of scope.
UNRECOGNISED_THRESHOLD = 0.8
UNSURE_FLOOR = 0.3


class KnowledgeBase:
    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._embedder_given = embedder is not None
        self._searcher: HybridSearcher | None = None
        self._procedures: dict[str, Procedure] = {}
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._checked_at = 0.0
        self.facts = FactBook(self._stored_facts, settings.province_name)
        self.rankers = RankerSource(settings)
        self._answers = lru_cache(maxsize=ANSWER_CACHE_SIZE)(self._answer)
        self._built_from = ""  # content_stamp() when the served index was built or loaded

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        return engine_for(self.settings.database_url)

    @property
    def embedder(self) -> Embedder | None:
        if not self._embedder_given and self._embedder is None:
            s = self.settings
            self._embedder = build_embedder(
                s.embedder_backend,
                s.embedder_model,
                s.embedder_query_prefix,
                s.embedder_passage_prefix,
                s.embedder_threads,
            )
            self._embedder_given = True
        return self._embedder

    def warm_up(self, progress: bool = False) -> None:
        """Prepare the database (or, where that is a separate step, check its schema), then
        load or rebuild the index."""
        if self.settings.migrates_on_start:
            self.prepare_database()
        else:
            check_schema(self.engine)
        self.ensure_index(progress=progress)
        if self.embedder is not None:
            self.embedder.warm_up()

    def prepare_database(self) -> None:
        """Migrate, and seed the sample catalogue into an empty database: one process at a
        time (``hotline db upgrade``, or each worker in development)."""
        with setup_lock(self.engine):
            migrate(self.engine)
            if self.settings.load_sample_if_empty and self.procedure_count() == 0:
                self.load_sample_catalogue()

    def procedure_count(self) -> int:
        with session_scope(self.engine) as session:
            return int(session.scalar(select(func.count(Procedure.id))) or 0)

    def load_sample_catalogue(self) -> None:
        from knowledge_base.importers.service import ImportReport, import_records, parse_lines

        text = resources.files("knowledge_base.data").joinpath(SAMPLE_CATALOGUE).read_text("utf-8")
        with session_scope(self.engine) as session:
            report = import_records(
                session,
                parse_lines(iter(text.splitlines()), "canonical"),
                ImportReport(SAMPLE_CATALOGUE),
                "sample",
            )
        logger.info("catalogue.sample_loaded", extra=report.as_dict())

    @property
    def index_dir(self) -> Path:
        return self.settings.resolved_index_dir

    def ensure_index(self, force: bool = False, progress: bool = False) -> SearchIndex:
        """Load the index from disk; rebuild it when missing or stale (catalogue or model changed).

        A rebuild happens beside the serving index; the searcher is swapped only once the new
        one is complete, so a failed build leaves the old one serving.

        Under the publish lock shared by every worker process, and the database is read only
        once it is held: a worker that waited while another published the same change loads
        that index instead of building it again, and the last one to publish has read the
        newest catalogue.
        """
        with self._build_lock, publish_lock(self.index_dir):
            with session_scope(self.engine) as session:
                stamp = content_stamp(session)  # first: a change made meanwhile moves it again
                use_lexicon(site_lexicon(session))  # before the documents: it expands them
                documents = load_documents(session)
            embedder = self.embedder
            model_id = embedder.model_id if embedder else "none"
            manifest = read_manifest(self.index_dir)
            if not force and manifest and manifest.matches(model_id, corpus_hash(documents)):
                index = load_index(self.index_dir)
            else:
                logger.info(
                    "index.rebuilding", extra={"reason": "forced" if force else "missing or stale"}
                )
                index = build_index(
                    documents,
                    embedder,
                    self.index_dir,
                    self.settings.embed_batch_size,
                    progress,
                    self._reusable_index(manifest, model_id),
                )
            self._swap(index)
            self._built_from = stamp
            return index

    def _reusable_index(self, manifest: Manifest | None, model_id: str) -> SearchIndex | None:
        if self._searcher is not None:
            return self._searcher.index
        if manifest is not None and manifest.model_id == model_id:
            try:
                return load_index(self.index_dir)
            except (OSError, ValueError):
                return None
        return None

    @property
    def ranker(self) -> Ranker | None:
        return self.rankers.ranker

    def publish_ranker(self, ranker: Ranker) -> None:
        """Serve a newly trained ranker here and, through the database, on every replica."""
        self.rankers.publish(self.engine, ranker)
        self.use_ranker(ranker)

    def use_ranker(self, ranker: Ranker) -> None:
        """Serve a newly trained ranker from the next question on."""
        with self._lock:
            self.rankers.use(ranker)
            if self._searcher is not None:
                self._searcher.ranker = ranker

    def _swap(self, index: SearchIndex) -> None:
        ranker = self.rankers.first(self.engine)
        with self._lock:
            self._searcher = HybridSearcher(index, self.embedder, ranker)
            self._procedures = {}
            self._checked_at = time.monotonic()

    def refresh_index(self) -> IndexRefresh:
        """Rebuild after a FAQ, lexicon or catalogue change; on failure the old index keeps serving."""
        try:
            index = self.ensure_index()
        except Exception as exc:  # any build failure must leave search working
            logger.exception("index.refresh_failed")
            return IndexRefresh(False, f"Chưa cập nhật được chỉ mục tìm kiếm: {exc}")
        return IndexRefresh(True, f"Đã cập nhật chỉ mục tìm kiếm ({index.manifest.documents} mục).")

    @property
    def searcher(self) -> HybridSearcher:
        if self._searcher is None:
            self.ensure_index()
        elif time.monotonic() - self._checked_at > INDEX_CHECK_INTERVAL_S:
            self._follow_disk()
        assert self._searcher is not None
        return self._searcher

    def follow_changes(self) -> None:
        """Catch up with a change made by another process: a worker on this box that rebuilt
        the index or retrained the ranker (load it), or a replica elsewhere that changed what
        the index is built from (rebuild here; unchanged embeddings are reused)."""
        if self._searcher is None:
            return
        self.rankers.pull(self.engine)
        self._follow_disk()
        with session_scope(self.engine) as session:
            moved = content_stamp(session) != self._built_from
        if moved:
            self.refresh_index()

    def _follow_disk(self) -> None:
        self._checked_at = time.monotonic()
        assert self._searcher is not None
        ranker = self.rankers.moved()
        if ranker is not None:
            self.use_ranker(ranker)
            logger.info("ranker.reloaded")
        manifest = read_manifest(self.index_dir)
        if manifest is not None and manifest != self._searcher.index.manifest:
            try:
                with session_scope(self.engine) as session:
                    use_lexicon(site_lexicon(session))  # it may have been rebuilt for a new one
                self._swap(load_index(self.index_dir))
            except (OSError, ValueError):
                logger.warning("index.reload_failed")

    # --- queries ---------------------------------------------------------------------------
    def procedure(self, code: str) -> Procedure | None:
        cached = self._procedures.get(code)
        if cached is not None:
            return cached
        with Session(self.engine, expire_on_commit=False) as session:
            found = session.scalar(select(Procedure).where(Procedure.code == code))
            if found is not None:
                session.expunge(found)
        if found is not None:
            self._procedures[code] = found
        return found

    def known_codes(self) -> set[str]:
        with Session(self.engine) as session:
            return set(session.scalars(select(Procedure.code)))

    def name_to_code(self) -> dict[str, str]:
        with Session(self.engine) as session:
            rows = session.execute(select(Procedure.name, Procedure.code)).all()
        return {normalize_text(name): code for name, code in rows}

    def answer_about(self, code: str, question: str, aspect: Aspect | None = None) -> str | None:
        """Answer ``aspect`` (by default the one asked in ``question``) about a known procedure."""
        chosen = self.procedure(code)
        if chosen is None:
            return None
        return compose_procedure_answer(chosen, aspect or detect_aspect(question))

    def refusal(self) -> str:
        return refusal(self.settings.hotline_phone)

    def _faq(self, faq_id: int) -> FaqEntry | None:
        """The entry if it is live: an index not yet rebuilt must not serve an archived one."""
        with Session(self.engine, expire_on_commit=False) as session:
            query = select(FaqEntry).where(FaqEntry.id == faq_id, is_live(FaqEntry))
            return session.scalar(query)

    def _stored_facts(self) -> dict[str, ProvinceFact]:
        with session_scope(self.engine) as session:
            return facts.stored(session)

    def ask(self, question: str, top_k: int = 5) -> AskResult:
        fact = self.facts.answer(question)
        if fact is not None:
            aspect = detect_aspect(question).value
            return AskResult(True, aspect, fact, confidence=1.0, from_faq=True)
        missing = facts.asked_fact(question)
        if missing is not None:  # a figure staff have not entered yet
            text = figure_missing_text(missing.label, self.settings.hotline_phone)
            aspect = detect_aspect(question).value
            return AskResult(False, aspect, text, refusal_kind="figure_missing")
        searcher = self.searcher
        # repeated questions come from memory, until the index or the ranker changes
        generation = (searcher.index.manifest, self.rankers.generation)
        return self._answers(generation, question, top_k)

    def _answer(self, generation: tuple[Manifest, int], question: str, top_k: int) -> AskResult:
        aspect = detect_aspect(question)
        if is_out_of_scope(question):
            return AskResult(False, aspect.value, self.refusal(), refusal_kind="out_of_scope")
        searcher = self.searcher
        if not searcher.index.documents:  # nothing imported yet
            return AskResult(False, aspect.value, self.refusal(), refusal_kind="out_of_scope")
        query = analyze(question, searcher.index)
        # a record this catalogue has no procedure for counts as nothing recognised
        objects = query.frame.objects
        absent = bool(objects) and not objects & searcher.catalogue_objects
        recognised = not query.frame.is_empty and not absent
        ranking = searcher.rank(query)
        hits = searcher.hits(ranking, max(top_k, 5))
        if not hits:
            return AskResult(False, aspect.value, self.refusal(), refusal_kind="out_of_scope")
        confidence = (
            ranking.confidence if searcher.ranker is not None else unranked_confidence(hits[0])
        )
        procedures, faqs = self._hit_lists(hits, top_k)
        # a question in which nothing procedural was recognised needs more evidence
        needed = self.settings.answerable_threshold if recognised else UNRECOGNISED_THRESHOLD
        precise = precise_refusal(question, query.frame, searcher.catalogue_objects, self.settings)
        if confidence < needed or (precise is not None and precise[0] == "not_understood"):
            kind: RefusalKind
            if precise is not None:
                text, kind = precise[1], precise[0]
            elif recognised or confidence >= UNSURE_FLOOR:
                text, kind = unsure(procedures[:3], self.settings.hotline_phone), "unsure"
            else:
                text, kind = self.refusal(), "out_of_scope"
            return AskResult(
                False, aspect.value, text, procedures, faqs, confidence, refusal_kind=kind
            )
        answer = self._compose(hits, aspect, procedures)
        from_faq = hits[0].document.kind == "faq"
        return AskResult(True, aspect.value, answer, procedures, faqs, confidence, from_faq)

    def _hit_lists(self, hits: list[Hit], top_k: int) -> tuple[list[ProcedureHit], list[FaqHit]]:
        procedures: list[ProcedureHit] = []
        faqs: list[FaqHit] = []
        for hit in hits:
            doc = hit.document
            if doc.kind == "procedure" and len(procedures) < top_k:
                p = self.procedure(doc.codes[0])
                if p is not None:
                    procedures.append(
                        ProcedureHit(
                            code=p.code,
                            name=p.name,
                            score=round(hit.score, 5),
                            level=", ".join(p.levels),
                            agency=p.implementing_agency or p.competent_agency,
                            url=p.source_url,
                        )
                    )
            elif doc.kind == "faq" and len(faqs) < top_k:
                entry = self._faq(int(doc.key.split(":", 1)[1]))
                if entry is not None:
                    faqs.append(
                        FaqHit(
                            entry.id,
                            doc.title,
                            entry.answer,
                            list(entry.procedure_codes),
                            round(hit.score, 5),
                        )
                    )
        return procedures, faqs

    def _compose(self, hits: list[Hit], aspect: Aspect, procedures: list[ProcedureHit]) -> str:
        top = hits[0].document
        if top.kind == "faq":
            entry = self._faq(int(top.key.split(":", 1)[1]))
            if entry is not None:
                return entry.answer.strip()
        if not procedures:
            return refusal(self.settings.hotline_phone)
        chosen = self.procedure(procedures[0].code)
        assert chosen is not None
        text = compose_procedure_answer(chosen, aspect)
        note = variant_note(
            chosen.name, near_variants(chosen.name, [p.name for p in procedures[1:4]])
        )
        return f"{text}\n{note}" if note else text
