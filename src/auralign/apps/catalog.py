"""Per-file metadata, tags, captions and keyword terms of a search index, in SQLite.

`items` has one row per indexed file (its id is the vector's id in faiss), with the size and mtime
it had when embedded, so a rescan can tell new, changed and deleted files apart without reading
audio. `tags` holds (item, tag, score, source): `label` tags come from a manifest, `auto` tags from
`auralign index tag`. `terms` is the keyword index used by hybrid ranking: the lower-cased words of
a file's name, its folder, its tags and its caption.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, root TEXT NOT NULL, folder TEXT NOT NULL,
    name TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, caption TEXT);
CREATE INDEX IF NOT EXISTS items_folder ON items (folder);
CREATE TABLE IF NOT EXISTS tags (
    item_id INTEGER NOT NULL, tag TEXT NOT NULL, score REAL NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY (item_id, tag, source));
CREATE INDEX IF NOT EXISTS tags_tag ON tags (tag);
CREATE TABLE IF NOT EXISTS terms (term TEXT NOT NULL, item_id INTEGER NOT NULL, PRIMARY KEY (term, item_id))
    WITHOUT ROWID;
"""
STOPWORDS = frozenset(["a", "an", "and", "the", "of", "in", "on", "at", "to", "with", "by", "for", "from", "is", "are", "sound", "sounds", "audio", "recording"])


def words(text: str) -> list[str]:
    """Lower-cased words of a name or query: split on non-alphanumerics and camelCase, stopwords dropped."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    return [w for w in re.split(r"[^0-9a-zA-Z]+|_", spaced.lower()) if len(w) > 1 and w not in STOPWORDS]


@dataclass
class FileRecord:
    path: str
    root: str
    folder: str
    name: str
    size: int
    mtime_ns: int
    caption: str | None = None
    labels: list[str] = field(default_factory=list)


class Catalog:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(str(path), check_same_thread=False)
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def commit(self) -> None:
        self.db.commit()

    def get_meta(self) -> dict[str, Any]:
        return {key: json.loads(value) for key, value in self.db.execute("SELECT key, value FROM meta")}

    def set_meta(self, **values: Any) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                            [(key, json.dumps(value)) for key, value in values.items()])

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    def next_id(self) -> int:
        return (self.db.execute("SELECT MAX(id) FROM items").fetchone()[0] or 0) + 1

    def all_ids(self) -> list[int]:
        return [row[0] for row in self.db.execute("SELECT id FROM items ORDER BY id")]

    def insert(self, item_id: int, record: FileRecord) -> None:
        self.db.execute("INSERT INTO items (id, path, root, folder, name, size, mtime_ns, caption) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (item_id, record.path, record.root, record.folder, record.name, record.size,
                         record.mtime_ns, record.caption))
        self.db.executemany("INSERT OR REPLACE INTO tags VALUES (?, ?, 1.0, 'label')",
                            [(item_id, label) for label in record.labels])
        self._reindex_terms(item_id)

    def delete(self, ids: Sequence[int]) -> None:
        for table, column in (("items", "id"), ("tags", "item_id"), ("terms", "item_id")):
            self.db.executemany(f"DELETE FROM {table} WHERE {column} = ?", [(i,) for i in ids])

    def files_under(self, root: str) -> dict[str, tuple[int, int, int]]:
        """path -> (id, size, mtime_ns) of the items at or below `root` (a folder or one file)."""
        prefix = root.rstrip("/") + "/"
        rows = self.db.execute("SELECT path, id, size, mtime_ns FROM items WHERE path = ? OR substr(path, 1, ?) = ?",
                               (root, len(prefix), prefix))
        return {path: (item_id, size, mtime) for path, item_id, size, mtime in rows}

    def set_auto_tags(self, item_id: int, tags: Iterable[tuple[str, float]]) -> None:
        self.db.execute("DELETE FROM tags WHERE item_id = ? AND source = 'auto'", (item_id,))
        self.db.executemany("INSERT INTO tags VALUES (?, ?, ?, 'auto')", [(item_id, t, s) for t, s in tags])
        self._reindex_terms(item_id)

    def set_caption(self, item_id: int, caption: str) -> None:
        self.db.execute("UPDATE items SET caption = ? WHERE id = ?", (caption, item_id))
        self._reindex_terms(item_id)

    def _reindex_terms(self, item_id: int) -> None:
        name, folder, caption = self.db.execute("SELECT name, folder, caption FROM items WHERE id = ?",
                                                (item_id,)).fetchone()
        tags = [row[0] for row in self.db.execute("SELECT tag FROM tags WHERE item_id = ?", (item_id,))]
        terms = set(words(Path(name).stem)) | set(words(folder)) | set(words(caption or ""))
        terms |= {w for tag in tags for w in words(tag)}
        self.db.execute("DELETE FROM terms WHERE item_id = ?", (item_id,))
        self.db.executemany("INSERT INTO terms VALUES (?, ?)", [(term, item_id) for term in terms])

    def keyword_matches(self, terms: Sequence[str], limit: int = 500) -> dict[int, int]:
        """item id -> how many of `terms` it matches, for the `limit` best-matching items."""
        if not terms:
            return {}
        marks = ",".join("?" * len(terms))
        rows = self.db.execute(f"SELECT item_id, COUNT(*) AS n FROM terms WHERE term IN ({marks}) "
                               "GROUP BY item_id ORDER BY n DESC, item_id LIMIT ?", (*terms, limit))
        return dict(rows.fetchall())

    def matching_terms(self, ids: Sequence[int], terms: Sequence[str]) -> dict[int, int]:
        if not ids or not terms:
            return {}
        rows = self.db.execute(
            f"SELECT item_id, COUNT(*) FROM terms WHERE term IN ({','.join('?' * len(terms))}) "
            f"AND item_id IN ({','.join('?' * len(ids))}) GROUP BY item_id", (*terms, *ids))
        return dict(rows.fetchall())

    def filtered_ids(self, folder: str | None, tag: str | None) -> list[int]:
        """Ids of items in `folder` (or below it) and carrying `tag`; either filter may be None."""
        query, args = "SELECT id FROM items WHERE 1", []
        if folder:
            query += " AND (folder = ? OR substr(folder, 1, ?) = ?)"
            args += [folder.strip("/"), len(folder.strip("/")) + 1, folder.strip("/") + "/"]
        if tag:
            query += " AND id IN (SELECT item_id FROM tags WHERE tag = ?)"
            args.append(tag)
        return [row[0] for row in self.db.execute(query, args)]

    def items(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Full records (with tags, best first) of the given ids."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        records = {row[0]: {"id": row[0], "path": row[1], "folder": row[2], "name": row[3], "caption": row[4],
                            "tags": []}
                   for row in self.db.execute(f"SELECT id, path, folder, name, caption FROM items WHERE id IN ({marks})",
                                              tuple(ids))}
        for item_id, tag, score, source in self.db.execute(
                f"SELECT item_id, tag, score, source FROM tags WHERE item_id IN ({marks}) ORDER BY score DESC",
                tuple(ids)):
            records[item_id]["tags"].append({"tag": tag, "score": round(score, 4), "source": source})
        return records

    def path_of(self, item_id: int) -> str | None:
        row = self.db.execute("SELECT path FROM items WHERE id = ?", (item_id,)).fetchone()
        return row[0] if row else None

    def facets(self, limit: int = 200) -> dict[str, list[dict[str, Any]]]:
        folders = self.db.execute("SELECT folder, COUNT(*) FROM items GROUP BY folder ORDER BY folder LIMIT ?",
                                  (limit,)).fetchall()
        tags = self.db.execute("SELECT tag, COUNT(DISTINCT item_id) AS n FROM tags GROUP BY tag "
                               "ORDER BY n DESC, tag LIMIT ?", (limit,)).fetchall()
        return {"folders": [{"name": f, "count": n} for f, n in folders],
                "tags": [{"name": t, "count": n} for t, n in tags]}
