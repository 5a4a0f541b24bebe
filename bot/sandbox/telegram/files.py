"""Files: uploads stored by the fake, getFile and downloads, and what tests read of them.

A part of FakeBotAPI (server.py), which combines these mixins.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from .common import MAX_DOWNLOAD_SIZE, _bad, _image_size, _Upload


class FilesMixin:
    """Stored files (documents and photos, bot- or user-sent) and getFile."""

    def _store_file(
        self,
        kind: str,
        content: bytes,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> dict[str, Any]:
        n = next(self._file_counter)
        prefix = "AgACAgIAAxkBAAI" if kind == "photo" else "BQACAgIAAxkBAAI"
        if kind == "document" and (not mime_type or mime_type == "application/octet-stream"):
            guessed = mimetypes.guess_type(file_name or "")[0]
            mime_type = guessed or mime_type or "application/octet-stream"
        ext = ""
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1][:10]
        elif kind == "photo":
            ext = ".jpg"
        folder = "photos" if kind == "photo" else "documents"
        rec: dict[str, Any] = {
            "file_id": f"{prefix}{self._file_prefix}{n:08d}",
            "file_unique_id": f"AgAD{self._file_prefix}{n:06d}",
            "kind": kind,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(content),
            "file_path": f"{folder}/file_{n}{ext}",
            "content": content,
        }
        if kind == "document":
            doc: dict[str, Any] = {
                "file_id": rec["file_id"],
                "file_unique_id": rec["file_unique_id"],
            }
            if file_name:
                doc["file_name"] = file_name
            doc["mime_type"] = mime_type
            doc["file_size"] = len(content)
            rec["public"] = doc
            self._files[rec["file_id"]] = rec
        else:
            width, height = _image_size(content) or (1280, 720)
            scale = min(1.0, 320 / max(width, height, 1))
            small_id = f"{prefix}{self._file_prefix}{n:08d}s"
            sizes = [
                {
                    "file_id": small_id,
                    "file_unique_id": f"AQAD{self._file_prefix}{n:06d}s",
                    "file_size": len(content),
                    "width": max(1, int(width * scale)),
                    "height": max(1, int(height * scale)),
                },
                {
                    "file_id": rec["file_id"],
                    "file_unique_id": rec["file_unique_id"],
                    "file_size": len(content),
                    "width": width,
                    "height": height,
                },
            ]
            rec["public"] = sizes
            self._files[rec["file_id"]] = rec
            small = dict(rec)
            small["file_id"] = small_id
            small["file_unique_id"] = sizes[0]["file_unique_id"]
            small["file_path"] = f"{folder}/file_{n}s{ext}"
            self._files[small_id] = small
            self._files_by_path[small["file_path"]] = small
        self._files_by_path[rec["file_path"]] = rec
        return rec

    def _input_file(self, p: dict[str, Any], field: str, kind: str) -> dict[str, Any]:
        value = p.get(field)
        if value is None or value == "":
            raise _bad(f"there is no {field} in the request")
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.get(value[9:])
            if not isinstance(value, _Upload):
                raise _bad("wrong file identifier/HTTP URL specified")
        if isinstance(value, _Upload):
            if not value.data:
                raise _bad("file must be non-empty")
            return self._store_file(kind, value.data, value.filename, value.content_type)
        if not isinstance(value, str):
            raise _bad("wrong file identifier/HTTP URL specified")
        if value.startswith(("http://", "https://")):
            raise _bad("failed to get HTTP URL content")
        rec = self._files.get(value.strip())
        if rec is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if rec["kind"] != kind:
            raise _bad(f"can't use file of type {rec['kind'].capitalize()} as {kind.capitalize()}")
        return rec

    def file_content(self, file_id: str) -> bytes:
        """The bytes of a stored file (uploaded by the bot or sent by a user)."""
        return self._files[file_id]["content"]

    def file_info(self, file_id: str) -> dict[str, Any]:
        """Metadata of a stored file (file_id, file_unique_id, kind, file_name, ...)."""
        rec = self._files[file_id]
        return {k: v for k, v in rec.items() if k not in ("content", "public")}

    def _api_getFile(self, p: dict[str, Any]) -> dict[str, Any]:
        file_id = p.get("file_id")
        rec = self._files.get(file_id) if isinstance(file_id, str) else None
        if rec is None:
            raise _bad("invalid file_id")
        if rec["file_size"] > MAX_DOWNLOAD_SIZE:
            raise _bad("file is too big")
        return {
            "file_id": rec["file_id"],
            "file_unique_id": rec["file_unique_id"],
            "file_size": rec["file_size"],
            "file_path": rec["file_path"],
        }
