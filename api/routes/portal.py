"""The demo portal page that embeds the chat widget (static files are mounted at /static)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
router = APIRouter(include_in_schema=False)


@router.get("/")
async def demo_portal() -> FileResponse:
    return FileResponse(STATIC_DIR / "demo.html", media_type="text/html")
