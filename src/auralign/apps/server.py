"""A small HTTP API over one loaded model (and optionally a search index), with FastAPI.

Endpoints: `GET /health`, `POST /classify` (an uploaded audio file + candidate labels),
`POST /embed/text`, `POST /search` (text query against the index), `POST /caption` and `POST /ask`
(generative models). The model is loaded once at start-up; requests only run inference.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Form, HTTPException, UploadFile
from pydantic import BaseModel, Field

from auralign.apps.search_index import SearchIndex
from auralign.data.feature_cache import FeatureCache, pad_tokens
from auralign.errors import AuralignError
from auralign.evaluation.embedding import embed_texts
from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES, classify_files
from auralign.models.base import AudioTextEmbedder, AudioTextGenerator

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


class TextQuery(BaseModel):
    texts: list[str] = Field(min_length=1, max_length=256)


class SearchQuery(BaseModel):
    query: str = Field(min_length=1)
    k: int = Field(default=10, ge=1, le=1000)


def create_app(model: Any, model_name: str, index: SearchIndex | None = None) -> FastAPI:
    """Build the app around an already loaded model (tests pass tiny ones; `auralign serve` the real one)."""
    app = FastAPI(title="auralign", description="Audio-language model API")
    features = tempfile.TemporaryDirectory(prefix="auralign-serve-")
    cache = FeatureCache(model.audio_encoder, root=features.name)

    async def saved_upload(upload: UploadFile, folder: str) -> Path:
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise HTTPException(413, f"audio larger than {MAX_UPLOAD_BYTES // 2**20} MB")
        path = Path(folder) / Path(upload.filename or "upload.wav").name
        path.write_bytes(data)
        return path

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": model_name, "index": None if index is None else index.index.ntotal}

    @app.post("/classify")
    async def classify(audio: UploadFile = File(...), labels: str = Form(...), top_k: int = Form(3)) -> dict:
        names = [name.strip() for name in labels.split(",") if name.strip()]
        if len(names) < 2:
            raise HTTPException(422, "give at least two comma-separated labels")
        with tempfile.TemporaryDirectory() as folder:
            path = await saved_upload(audio, folder)
            result = classify_files(model, [path], names, DEFAULT_TEMPLATES, top_k=top_k, cache=cache)
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
        hits = index.search_text(model, [query.query], query.k)[0]
        return {"query": query.query, "hits": [{"score": h.score, **h.item} for h in hits]}

    async def generate(audio: UploadFile, instruction: str | None) -> dict:
        if not isinstance(model, AudioTextGenerator):
            raise HTTPException(400, f"model {model_name} cannot generate text")
        with tempfile.TemporaryDirectory() as folder:
            path = await saved_upload(audio, folder)
            failures = cache.ensure([path], progress=False)
            if failures:
                raise HTTPException(422, failures[0][1])
            window = cache.get(path).windows()[0]
        return {"text": model.generate(*pad_tokens([window]), instruction=instruction)[0]}

    @app.post("/caption")
    async def caption(audio: UploadFile = File(...)) -> dict:
        return await generate(audio, None)

    @app.post("/ask")
    async def ask(audio: UploadFile = File(...), question: str = Form(...)) -> dict:
        return await generate(audio, question)

    @app.exception_handler(AuralignError)
    async def user_error(request: Any, error: AuralignError) -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse(status_code=422, content={"detail": str(error)})

    app.state.features = features  # kept alive with the app, removed when it is collected
    return app
