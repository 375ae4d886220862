"""A small HTTP API over one loaded model (and optionally a search index), with FastAPI.

Endpoints: `GET /health`, `POST /classify` (an uploaded audio file + candidate labels),
`POST /embed/text`, `POST /search` (text query against the index), `POST /caption` and `POST /ask`
(generative models). The model is loaded once at start-up; requests only run inference.

Safe by default (see `limits.py` for the numbers): no CORS headers, an optional bearer token on every
route, request bodies limited while they stream, uploads stored under their content hash in a private
work folder removed at shutdown, uploaded clips' features in a bounded LRU, and every error a JSON
`{"detail": "..."}` (never a traceback). Inference endpoints are plain `def`, so they run in the
threadpool and `/health` answers while a long request is being computed.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from auralign.apps.limits import (
    MAX_K,
    MAX_TEXT_CHARS,
    MAX_TEXTS,
    LimitError,
    ServerLimits,
    check_top_k,
    parse_labels,
)
from auralign.apps.middleware import BearerToken, BodyLimit
from auralign.apps.search_index import SearchIndex
from auralign.apps.uploads import UploadFeatureCache, save_upload
from auralign.data.feature_cache import pad_tokens
from auralign.errors import AuralignError
from auralign.evaluation.embedding import embed_texts
from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES, classify_files
from auralign.models.base import AudioTextEmbedder, AudioTextGenerator

log = logging.getLogger("auralign.server")


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
               limits: ServerLimits | None = None) -> FastAPI:
    """Build the app around an already loaded model (tests pass tiny ones; `auralign serve` the real one)."""
    limits = limits or ServerLimits()
    workdir = tempfile.TemporaryDirectory(prefix="auralign-serve-")
    uploads = UploadFeatureCache(model.audio_encoder, limits.cache_entries, limits.max_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        uploads.clear()
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
        return {"status": "ok", "model": model_name, "index": None if index is None else index.ntotal}

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
            raise HTTPException(422, result.failures[0][1])
        return {"labels": names, "top": result.predictions[0]["top"]}

    @app.post("/embed/text")
    def embed_text(query: TextQuery) -> dict:
        if not isinstance(model, AudioTextEmbedder):
            raise HTTPException(400, f"model {model_name} has no text embedding")
        return {"embeddings": embed_texts(model, query.texts).tolist()}

    @app.post("/search")
    def search(query: SearchQuery) -> dict:
        if index is None:
            raise HTTPException(404, "no index loaded (start the server with --index)")
        hits = index.search_text(model, query.query, query.k)
        return {"query": query.query, "hits": [{"score": h.score, **h.item} for h in hits]}

    def generate(audio: UploadFile, instruction: str | None) -> dict:
        if not isinstance(model, AudioTextGenerator):
            raise HTTPException(400, f"model {model_name} cannot generate text")
        path = stored(audio)
        try:
            window = uploads.get(path).windows()[0]
        finally:
            path.unlink(missing_ok=True)
        return {"text": model.generate(*pad_tokens([window]), instruction=instruction)[0]}

    @app.post("/caption")
    def caption(audio: UploadFile = File(...)) -> dict:
        return generate(audio, None)

    @app.post("/ask")
    def ask(audio: UploadFile = File(...), question: str = Form(..., max_length=MAX_TEXT_CHARS)) -> dict:
        return generate(audio, question)

    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Every error is `{"detail": "<one readable line>"}`; unexpected ones are logged, not shown."""

    @app.exception_handler(LimitError)
    async def over_limit(_: Request, error: LimitError) -> JSONResponse:
        return JSONResponse(status_code=413, content={"detail": str(error)})

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
