"""The sound-library page and a small HTTP API over one loaded model and optionally a search index.

Page: `GET /` (static HTML + JS + CSS shipped in `auralign/apps/static/`, no build step, no CDN).
API: `GET /health`, `POST /classify` (an uploaded audio file + candidate labels), `POST /embed/text`,
`POST /search` (JSON text query), `POST /caption` and `POST /ask` (generative models), and for the
page: `GET /api/search` (text, with folder/tag filters), `POST /api/search/audio` (by example),
`GET /api/items/{id}/similar`, `GET /api/facets`, `GET /api/items/{id}/audio` (the indexed file
itself, with HTTP Range; never an arbitrary path) and `GET /api/items/{id}/waveform.png`.
The model is loaded once at start-up; requests only run inference.

Safe by default (see `limits.py` for the numbers): no CORS headers, an optional bearer token on every
route, request bodies limited while they stream, uploads stored under their content hash in a private
work folder removed at shutdown, uploaded clips' features in a bounded LRU, and every error a JSON
`{"detail": "..."}` (never a traceback). Inference endpoints are plain `def`, so they run in the
threadpool and `/health` answers while a long request is being computed. Concurrent requests share
model calls: the audio windows of uploads being encoded, and the texts of text queries, are merged by
a `DynamicBatcher` (a 4 ms window) that runs the encoder on one worker thread; label matrices come from
the text cache, so a label set is embedded once per server, not once per request. Captions and answers
come from the captioner (the served model when it generates, else the one passed in, e.g. `auralign
serve --captioner mats-caption`) through `evaluation.captioning` (`first_windows`, `generate_texts`),
the path of `auralign caption`; concurrent requests share one `generate_texts` call per instruction on
a third worker thread.
"""

from __future__ import annotations

import logging
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, field_validator

from auralign.apps.batching import DynamicBatcher
from auralign.apps.limits import (
    MAX_K,
    MAX_LABEL_CHARS,
    MAX_TEXT_CHARS,
    MAX_TEXTS,
    LimitError,
    ServerLimits,
    check_top_k,
    parse_labels,
)
from auralign.apps.middleware import BearerToken, BodyLimit
from auralign.apps.search_index import Hit, SearchIndex
from auralign.apps.thumbnails import waveform_png
from auralign.apps.uploads import UploadFeatureCache, save_upload
from auralign.data.feature_cache import encode_windows
from auralign.errors import AudioLoadError, AuralignError
from auralign.evaluation.captioning import GENERATION_BATCH, first_windows, generate_texts
from auralign.evaluation.embedding import embed_texts
from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES, classify_files
from auralign.models.base import AudioTextEmbedder, AudioTextGenerator

log = logging.getLogger("auralign.server")
STATIC = Path(__file__).parent / "static"
AUDIO_TYPES = {".wav": "audio/wav", ".wave": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg",
               ".oga": "audio/ogg", ".opus": "audio/ogg", ".mp3": "audio/mpeg", ".aif": "audio/aiff",
               ".aiff": "audio/aiff", ".au": "audio/basic"}
THUMBNAILS = 512  # waveform PNGs kept in memory


class TextQuery(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=MAX_TEXTS)

    @field_validator("texts")
    @classmethod
    def short_texts(cls, texts: list[str]) -> list[str]:
        if any(len(text) > MAX_TEXT_CHARS for text in texts):
            raise ValueError(f"texts are at most {MAX_TEXT_CHARS} characters")
        return texts


class SearchQuery(BaseModel):
    query: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    k: int = Field(default=10, ge=1, le=MAX_K)


def create_app(model: Any, model_name: str, index: SearchIndex | None = None, *, token: str | None = None,
               limits: ServerLimits | None = None, captioner: AudioTextGenerator | None = None) -> FastAPI:
    """Build the app around already loaded models (tests pass tiny ones; `auralign serve` the real ones).

    `captioner` serves `/caption` and `/ask` (default: `model` itself when it generates text)."""
    limits = limits or ServerLimits()
    if captioner is None and isinstance(model, AudioTextGenerator):
        captioner = model
    workdir = tempfile.TemporaryDirectory(prefix="auralign-serve-")
    audio_batcher = DynamicBatcher(partial(encode_windows, model.audio_encoder), size=len, name="audio-batcher")
    uploads = UploadFeatureCache(model.audio_encoder, limits.cache_entries, limits.max_seconds,
                                 encode=audio_batcher)
    text_batcher = DynamicBatcher(lambda texts: list(embed_texts(model, texts)), max_items=MAX_TEXTS,
                                  name="text-batcher")

    batchers = [audio_batcher, text_batcher]
    generation = None if captioner is None else _Generation(captioner, uploads, limits)
    if generation is not None:
        batchers.append(generation.batcher)

    def text_vectors(texts: list[str]) -> np.ndarray:
        return np.stack(text_batcher(texts))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        for batcher in batchers:
            batcher.close()
        uploads.clear()
        if generation is not None:
            generation.uploads.clear()
        workdir.cleanup()

    app = FastAPI(title="auralign", description="Audio-language model API", lifespan=lifespan)
    app.state.workdir = workdir
    app.state.uploads = uploads
    app.state.limits = limits
    app.add_middleware(BodyLimit, upload_bytes=limits.max_upload_bytes, body_bytes=limits.max_body_bytes)
    if token:
        app.add_middleware(BearerToken, token=token)  # added last, so it runs first
    _add_error_handlers(app)

    def stored(upload: UploadFile) -> Path:
        return save_upload(upload.file, upload.filename, Path(workdir.name), limits.max_upload_bytes)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "model": model_name, "index": None if index is None else index.ntotal,
                "can_caption": captioner is not None}

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if index is not None:
        _add_library_routes(app, model, index, uploads, stored, text_vectors)

    @app.post("/classify")
    def classify(audio: UploadFile = File(...), labels: str = Form(...), top_k: int = Form(3)) -> dict:
        names = parse_labels(labels)
        check_top_k(top_k, len(names))
        path = stored(audio)
        try:
            result = classify_files(model, [path], names, DEFAULT_TEMPLATES, top_k=top_k, cache=uploads)
        finally:
            path.unlink(missing_ok=True)
        if result.failures:
            raise HTTPException(422, f"cannot use this audio: {result.failures[0][1]}")
        return {"labels": names, "top": result.predictions[0]["top"]}

    @app.post("/embed/text")
    def embed_text(query: TextQuery) -> dict:
        if not isinstance(model, AudioTextEmbedder):
            raise HTTPException(400, f"model {model_name} has no text embedding")
        return {"embeddings": text_vectors(query.texts).tolist()}

    @app.post("/search")
    def search(query: SearchQuery) -> dict:
        if index is None:
            raise HTTPException(404, "no index loaded (start the server with --index)")
        hits = index.search(text_vectors([query.query])[0], query.k, text=query.query)
        return {"query": query.query, "hits": [{"score": h.score, **h.item} for h in hits]}

    def generate(audio: UploadFile, instruction: str | None) -> dict:
        if generation is None:
            raise HTTPException(400, f"model {model_name} cannot generate text (serve it with --captioner)")
        path = stored(audio)
        try:
            return {"text": generation.describe(path, instruction)}
        finally:
            path.unlink(missing_ok=True)

    @app.post("/caption")
    def caption(audio: UploadFile = File(...)) -> dict:
        return generate(audio, None)

    @app.post("/ask")
    def ask(audio: UploadFile = File(...), question: str = Form(..., max_length=MAX_TEXT_CHARS)) -> dict:
        return generate(audio, question)

    return app


class _Generation:
    """Captions and answers of uploads: the first window's tokens (the upload cache when the captioner
    shares the served model's audio encoder), then `generate_texts`, on one worker thread that merges
    concurrent requests into one call per instruction."""

    def __init__(self, captioner: AudioTextGenerator, uploads: UploadFeatureCache, limits: ServerLimits) -> None:
        self.captioner = captioner.eval()
        self.uploads = uploads if captioner.audio_encoder is uploads.encoder else UploadFeatureCache(
            captioner.audio_encoder, limits.cache_entries, limits.max_seconds)
        self.batcher: DynamicBatcher[tuple[np.ndarray, str | None], str] = DynamicBatcher(
            self._generate, max_items=GENERATION_BATCH, name="generation-batcher")

    def describe(self, path: Path, instruction: str | None) -> str:
        windows, failures = first_windows(self.uploads, [path], progress=False)
        if failures:
            raise HTTPException(422, f"cannot use this audio: {failures[0][1]}")
        return self.batcher([(windows[path], instruction)])[0]

    def _generate(self, items: list[tuple[np.ndarray, str | None]]) -> list[str]:
        by_instruction: dict[str | None, list[int]] = {}
        for i, (_, instruction) in enumerate(items):
            by_instruction.setdefault(instruction, []).append(i)
        texts: dict[int, str] = {}
        for instruction, rows in by_instruction.items():
            texts.update(zip(rows, generate_texts(self.captioner, [items[i][0] for i in rows], instruction),
                             strict=True))
        return [texts[i] for i in range(len(items))]


def _add_library_routes(app: FastAPI, model: Any, index: SearchIndex, uploads: UploadFeatureCache,
                        stored: Any, text_vectors: Callable[[list[str]], np.ndarray]) -> None:
    """Search, browse and play the indexed collection (the page's API)."""
    thumbnails: OrderedDict[tuple[int, int], bytes] = OrderedDict()

    def indexed_path(item_id: int) -> Path:
        path = index.catalog.path_of(item_id)
        if path is None:
            raise HTTPException(404, f"no item {item_id} in the index")
        if not Path(path).is_file():
            raise HTTPException(404, f"item {item_id} is no longer on disk (run `auralign index update`)")
        return Path(path)

    @app.get("/api/search")
    def search_text(q: str = Query(..., min_length=1, max_length=MAX_TEXT_CHARS),
                    k: int = Query(20, ge=1, le=MAX_K), folder: str | None = Query(None, max_length=1000),
                    tag: str | None = Query(None, max_length=MAX_LABEL_CHARS)) -> dict:
        return {"query": q, "hits": _hits(index.search(text_vectors([q])[0], k, text=q, folder=folder, tag=tag))}

    @app.post("/api/search/audio")
    def search_audio(audio: UploadFile = File(...), k: int = Form(20, ge=1, le=MAX_K),
                     folder: str | None = Form(None, max_length=1000),
                     tag: str | None = Form(None, max_length=MAX_LABEL_CHARS)) -> dict:
        path = stored(audio)
        try:
            return {"hits": _hits(index.search_audio(model, uploads, path, k, folder=folder or None,
                                                     tag=tag or None))}
        finally:
            path.unlink(missing_ok=True)

    @app.get("/api/items/{item_id}/similar")
    def similar(item_id: int, k: int = Query(20, ge=1, le=MAX_K), folder: str | None = Query(None, max_length=1000),
                tag: str | None = Query(None, max_length=MAX_LABEL_CHARS)) -> dict:
        return {"like": item_id, "hits": _hits(index.similar(item_id, k, folder=folder, tag=tag))}

    @app.get("/api/facets")
    def facets() -> dict:
        return index.catalog.facets()

    @app.get("/api/items/{item_id}/audio")
    def audio_file(item_id: int) -> FileResponse:
        path = indexed_path(item_id)
        return FileResponse(path, media_type=AUDIO_TYPES.get(path.suffix.lower(), "application/octet-stream"))

    @app.get("/api/items/{item_id}/waveform.png")
    def waveform(item_id: int) -> Response:
        path = indexed_path(item_id)
        key = (item_id, path.stat().st_mtime_ns)
        if key not in thumbnails:
            try:
                thumbnails[key] = waveform_png(path)
            except (RuntimeError, sf.LibsndfileError, OSError) as error:
                raise HTTPException(422, f"cannot draw item {item_id}: {str(error).splitlines()[0][:200]}") from None
            while len(thumbnails) > THUMBNAILS:
                thumbnails.popitem(last=False)
        thumbnails.move_to_end(key)
        return Response(thumbnails[key], media_type="image/png", headers={"Cache-Control": "max-age=3600"})


def _hits(hits: list[Hit]) -> list[dict[str, Any]]:
    return [{**hit.item, "score": round(hit.score, 4), "vector_score": round(hit.vector_score, 4),
             "audio_url": f"/api/items/{hit.item['id']}/audio", "thumb_url": f"/api/items/{hit.item['id']}/waveform.png"}
            for hit in hits]


def _add_error_handlers(app: FastAPI) -> None:
    """Every error is `{"detail": "<one readable line>"}`; unexpected ones are logged, not shown."""

    @app.exception_handler(LimitError)
    async def over_limit(_: Request, error: LimitError) -> JSONResponse:
        return JSONResponse(status_code=413, content={"detail": str(error)})

    @app.exception_handler(AudioLoadError)
    async def bad_audio(_: Request, error: AudioLoadError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": f"cannot use this audio: {error.reason}"})

    @app.exception_handler(AuralignError)
    async def user_error(_: Request, error: AuralignError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(error)})

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": _validation_message(error)})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": f"internal error ({type(error).__name__})"})


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for problem in error.errors()[:5]:
        where = ".".join(str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path"))
        message = str(problem.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"
