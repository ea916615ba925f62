"""GET / (and /ui): the page for people, served from the package's own files (serving/page/).

Three files, no build step, nothing fetched from elsewhere: the HTML, one script and one stylesheet,
read once and answered from memory. Every answer carries a strict Content-Security-Policy: scripts
and styles only from this origin (no inline script or style, no eval), requests only to this API,
no frames, no forms posted elsewhere. The files are public (a browser cannot present a key when it
opens a page) and hold no data: the script asks for a key once, keeps it in the tab's
sessionStorage and presents it on every call, so each call meets the same scopes as any client's.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Request
from starlette.responses import Response

router = APIRouter(tags=["page"], include_in_schema=False)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
PAGE_FILES = {
    "index.html": "text/html; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
}


@cache
def page_file(name: str) -> bytes:
    """One of the page's files, read from the installed package once."""
    return (files("mlops_template.serving") / "page" / name).read_bytes()


def _answer(name: str) -> Response:
    return Response(page_file(name), media_type=PAGE_FILES[name], headers=HEADERS)


@router.get("/", operation_id="page")
async def page(_request: Request) -> Response:
    return _answer("index.html")


@router.get("/ui", operation_id="page_ui")
async def page_ui(_request: Request) -> Response:
    return _answer("index.html")


@router.get("/page/page.js", operation_id="page_script")
async def page_script(_request: Request) -> Response:
    return _answer("page.js")


@router.get("/page/page.css", operation_id="page_style")
async def page_style(_request: Request) -> Response:
    return _answer("page.css")
